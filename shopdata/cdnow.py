"""Convert the CDNOW master log into the project's raw data contract.

The CDNOW log (Fader & Hardie) lists every purchase of the 23,570 customers who first bought
at CDNOW in Q1 1997, until the end of June 1998: customer id, date, number of CDs, dollars.
It ships in the MIT-licensed `lifetimes` wheel as ``lifetimes/datasets/CDNOW_master.txt``.
The converted copy is vendored under ``data/cdnow/``; this module documents (and re-does) the
conversion::

    python -m shopdata cdnow --source path/to/CDNOW_master.txt --out data/cdnow

Each line becomes one completed order (several lines on one day stay several orders, as in
the source) with one order item of product ``cd``; customer ids are CDNOW's own, unpadded.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from shopdata.contract import command_parser

logger = logging.getLogger(__name__)

CD_PRODUCT = {"product_id": "cd", "product_name": "compact disc", "category": "music"}


def read_master(source: Path) -> list[tuple[str, str, int, float]]:
    """Parse CDNOW_master.txt into (customer_id, iso_date, cds, dollars) tuples, in file order."""
    rows = []
    for line in source.read_text().splitlines():
        parts = line.split()
        if not parts or not parts[0].isdigit():
            continue  # header
        customer, day, cds, dollars = parts
        iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
        rows.append((str(int(customer)), iso, int(cds), float(dollars)))
    return rows


def write_contract(rows: list[tuple[str, str, int, float]], out_dir: Path) -> None:
    """Write orders.csv, order_items.csv and products.csv in the raw data contract."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        (out_dir / "orders.csv").open("w", newline="") as orders_f,
        (out_dir / "order_items.csv").open("w", newline="") as items_f,
    ):
        orders = csv.writer(orders_f, lineterminator="\n")
        items = csv.writer(items_f, lineterminator="\n")
        orders.writerow(["order_id", "customer_id", "ordered_at", "order_total", "status"])
        items.writerow(["order_id", "product_id", "quantity", "unit_price"])
        for line_no, (customer, day, cds, dollars) in enumerate(rows, start=1):
            order_id = f"cdnow-{line_no:05d}"
            orders.writerow([order_id, customer, day, f"{dollars:.2f}", "completed"])
            unit_price = round(dollars / cds, 4) if cds else 0.0
            items.writerow([order_id, CD_PRODUCT["product_id"], cds, f"{unit_price:.4f}"])
    with (out_dir / "products.csv").open("w", newline="") as products_f:
        products = csv.DictWriter(products_f, fieldnames=list(CD_PRODUCT), lineterminator="\n")
        products.writeheader()
        products.writerow(CD_PRODUCT)


def main_cdnow(argv: list[str] | None = None) -> int:
    """CLI: convert CDNOW_master.txt to the raw contract."""
    parser = command_parser("cdnow", __doc__)
    parser.add_argument("--source", type=Path, required=True, help="path to CDNOW_master.txt")
    parser.add_argument(
        "--out", type=Path, default=Path("data/cdnow"), help="output folder (default data/cdnow)"
    )
    args = parser.parse_args(argv)
    rows = read_master(args.source)
    write_contract(rows, args.out)
    logger.info(
        "wrote %d orders of %d customers to %s", len(rows), len({r[0] for r in rows}), args.out
    )
    return 0
