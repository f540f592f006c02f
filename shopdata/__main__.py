"""``python -m shopdata {cdnow,synthetic} ...``: build a raw dataset folder."""

from __future__ import annotations

import logging
import sys

from shopdata.cdnow import main_cdnow
from shopdata.synthetic import main_synthetic

COMMANDS = {"cdnow": main_cdnow, "synthetic": main_synthetic}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m shopdata {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
