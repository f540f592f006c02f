"""``python -m report`` / ``clv-report``: write the analyst report of a scored warehouse."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from python_udfs import settings

log = logging.getLogger("report")
REPORT_NAME = "report.html"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="clv-report",
        description="Write one self-contained HTML report (charts inlined, opens offline) "
        "from a scored warehouse's marts.",
    )
    parser.add_argument(
        "--database",
        type=Path,
        help="the DuckDB warehouse (default: the project's, CLV_DUCKDB_PATH)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"the HTML file to write (default: {REPORT_NAME} next to the warehouse)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that the warehouse is scored (exit 1 naming the fix if not)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse(argv)
    from report import data, page

    database = args.database or settings.load().duckdb_path
    output = args.output or Path(database).with_name(REPORT_NAME)
    try:
        if args.check:
            data.open_scored(database).close()
            return 0
        content = page.render(data.load(database))
    except data.ReportError as error:
        log.error("report: %s", error)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_suffix(".tmp")
    temporary.write_text(content, encoding="utf-8")
    temporary.replace(output)
    log.info("report: wrote %s (%d KiB)", output, len(content) // 1024)
    print(output.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
