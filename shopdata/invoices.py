"""Convert an invoice-line export (shaped like UCI "Online Retail II") into the raw contract.

Many shops can only hand over an accounting dump: one row per invoice line, with columns such
as ``Invoice`` (or ``InvoiceNo``), ``StockCode``, ``Description``, ``Quantity``,
``InvoiceDate``, ``Price`` (or ``UnitPrice``), ``Customer ID`` (or ``CustomerID``) and
``Country``. Column names are matched ignoring case, spaces and underscores::

    python -m shopdata invoices --source export.csv --out data/myshop

writes Parquet files in ``--out``:

* ``orders``: one per sales invoice; ``order_total`` = sum(quantity * price) over its positive
  lines, ``ordered_at`` = the invoice's earliest line time, status ``completed``. An invoice
  without a customer id is **kept** with a null ``customer_id``: staging quarantines it with
  ``null_customer_id`` (it counts in ``stg_orders_rejected``, never silently lost).
* ``order_items``: one row per positive line (the same product twice in one invoice stays two
  rows; staging sums repeated product lines).
* ``products``: one per stock code, named by its most frequent description (ties: the
  alphabetically first); ``category`` is null because such dumps have none.
* ``refunds``: one per credit note (an invoice id starting with ``C``, or the negative lines of
  any other invoice): ``refund_id`` = the credit note id, ``amount`` = the positive sum of
  quantity * price, ``refunded_at`` = its time, ``order_id`` null (dumps do not link credit
  notes to the invoice they correct), ``reason`` ``credit_note``. Partial credit notes are
  simply smaller amounts.
* ``customers``: one per customer id with its most frequent ``Country``; ``signed_up_at`` and
  ``acquisition_channel`` are null (the model then ignores master data, see README).

Lines that fit none of these (quantity zero, negative price such as bad-debt adjustments, an
unparseable number) are written with their reason to ``_skipped_lines.csv`` in ``--out``, and
every kind is counted in the log and in ``_conversion_report.json``. Invoice times are read as
ISO (``2010-12-01 08:26:00``) or ``d/m/Y H:M`` / ``m/d/Y H:M``: the order of day and month is
detected from the data, and an ambiguous file stops with an error asking for ``--date-format``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from shopdata.contract import SCHEMAS, TS, command_parser, write_shop

logger = logging.getLogger(__name__)

#: The raw contract's optional refunds table (contract v2).
REFUNDS_SCHEMA = pa.schema(
    [
        ("refund_id", pa.string()),
        ("customer_id", pa.string()),
        ("refunded_at", TS),
        ("amount", pa.float64()),
        ("order_id", pa.string()),
        ("reason", pa.string()),
    ]
)

#: Every table name of the raw contract (a converter refuses folders holding others' files).
CONTRACT_TABLES: tuple[str, ...] = (*SCHEMAS, "refunds")

#: Canonical column -> accepted spellings, normalised (lower case, no spaces or underscores).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "invoice": ("invoice", "invoiceno", "invoicenumber"),
    "stock_code": ("stockcode",),
    "description": ("description",),
    "quantity": ("quantity",),
    "invoice_date": ("invoicedate",),
    "price": ("price", "unitprice"),
    "customer_id": ("customerid",),
    "country": ("country",),
}
OPTIONAL_COLUMNS = frozenset({"description", "country"})

CREDIT_NOTE_PREFIX = "C"
REFUND_REASON = "credit_note"
MONEY_DECIMALS = 2
ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
DAY_FIRST_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y")
MONTH_FIRST_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")
SLASH_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/\d{4}")
MONTHS_IN_YEAR = 12
FLOAT_ID = re.compile(r"^(\d+)\.0+$")
SKIPPED_FILE = "_skipped_lines.csv"
REPORT_FILE = "_conversion_report.json"


class ConversionError(ValueError):
    """The input cannot be converted; the message names the cause and the fix."""


def check_out_dir(out_dir: Path, writes: Iterable[str]) -> None:
    """Refuse an output folder holding contract tables this converter would not overwrite.

    dbt reads every ``<table>.<format>`` in the folder, so a stale ``reviews.parquet`` from
    another dataset would silently mix into this one."""
    foreign = sorted(
        path.name
        for name in set(CONTRACT_TABLES) - set(writes)
        for path in (out_dir / f"{name}.parquet", out_dir / f"{name}.csv")
        if path.exists()
    )
    if foreign:
        raise ConversionError(
            f"{out_dir} already holds {', '.join(foreign)}, which this converter does not "
            "write; dbt would read them as part of this dataset. Use an empty folder."
        )


def write_converted(tables: dict[str, pa.Table], out_dir: Path) -> None:
    """Write a converter's contract tables to ``out_dir`` (created), after check_out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    check_out_dir(out_dir, tables)
    write_shop(tables, out_dir)


def normalise_header(name: str) -> str:
    """``'Customer ID'`` -> ``'customerid'``: lower case without spaces or underscores."""
    return re.sub(r"[\s_]+", "", name.strip().lstrip("\ufeff")).lower()


def map_columns(header: list[str]) -> dict[str, int]:
    """Canonical column name -> index in ``header``; a clear error when one is missing."""
    positions = {normalise_header(name): i for i, name in enumerate(header)}
    mapping: dict[str, int] = {}
    for canonical, aliases in COLUMN_ALIASES.items():
        found = [positions[a] for a in aliases if a in positions]
        if found:
            mapping[canonical] = found[0]
        elif canonical not in OPTIONAL_COLUMNS:
            raise ConversionError(
                f"the export has no {canonical!r} column (accepted names: "
                f"{', '.join(aliases)}; case, spaces and underscores ignored); "
                f"its columns are: {', '.join(header)}"
            )
    return mapping


def clean_customer_id(raw: str) -> str | None:
    """Trimmed customer id, ``13085.0`` -> ``13085`` (spreadsheet exports); empty -> None."""
    value = raw.strip()
    if not value:
        return None
    match = FLOAT_ID.match(value)
    return match.group(1) if match else value


def detect_date_formats(values: Iterable[str]) -> tuple[str, ...]:
    """The strptime formats to try for the file's invoice dates (ISO, day- or month-first)."""
    day_first = month_first = saw_slash = False
    for value in values:
        match = SLASH_DATE.match(value)
        if not match:
            continue
        saw_slash = True
        first, second = int(match.group(1)), int(match.group(2))
        day_first |= first > MONTHS_IN_YEAR
        month_first |= second > MONTHS_IN_YEAR
    if not saw_slash:
        return ISO_FORMATS
    if day_first and month_first:
        raise ConversionError(
            "invoice dates mix day-first and month-first forms; pass --date-format"
        )
    if not day_first and not month_first:
        raise ConversionError(
            "cannot tell whether invoice dates like 01/02/2010 are day-first or month-first; "
            "pass --date-format, e.g. '%d/%m/%Y %H:%M'"
        )
    return ISO_FORMATS + (DAY_FIRST_FORMATS if day_first else MONTH_FIRST_FORMATS)


def parse_time(value: str, formats: tuple[str, ...]) -> datetime | None:
    """The first format that parses ``value``, or None."""
    text = value.strip()
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line, parsed."""

    invoice: str
    stock_code: str
    description: str
    quantity: int
    price: float
    invoiced_at: datetime | None
    customer_id: str | None
    country: str


@dataclass
class Document:
    """An invoice or credit note being assembled from its lines."""

    document_id: str
    lines: list[Line] = field(default_factory=list)

    @property
    def customer_ids(self) -> list[str]:
        return sorted({line.customer_id for line in self.lines if line.customer_id})

    @property
    def customer_id(self) -> str | None:
        """The document's customer (the smallest id if its lines disagree, counted)."""
        ids = self.customer_ids
        return ids[0] if ids else None

    @property
    def at(self) -> datetime | None:
        times = [line.invoiced_at for line in self.lines if line.invoiced_at is not None]
        return min(times) if times else None

    def amount(self) -> float:
        return round(sum(abs(line.quantity * line.price) for line in self.lines), MONEY_DECIMALS)


@contextmanager
def open_rows(source: Path, encoding: str) -> Iterator[tuple[list[str], Iterator[list[str]]]]:
    """Header and a stream of rows of the CSV export (any line endings)."""
    try:
        with source.open(newline="", encoding=encoding) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ConversionError(f"{source} is empty: expected a header line")
            yield header, reader
    except UnicodeDecodeError as error:
        raise ConversionError(
            f"{source} is not valid {encoding} ({error}); pass --encoding, e.g. latin-1"
        ) from error


def parse_line(
    row: list[str], columns: dict[str, int], formats: tuple[str, ...]
) -> tuple[Line | None, str | None]:
    """A parsed line, or None and the reason it cannot be converted."""

    def get(name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    invoice, stock_code = get("invoice"), get("stock_code")
    if not invoice:
        return None, "null_invoice"
    if not stock_code:
        return None, "null_stock_code"
    try:
        quantity_number = float(get("quantity"))
    except ValueError:
        return None, "unparseable_quantity"
    try:
        price = float(get("price"))
    except ValueError:
        return None, "unparseable_price"
    if not math.isfinite(quantity_number):
        return None, "unparseable_quantity"
    if not math.isfinite(price):
        return None, "non_finite_price"
    if quantity_number != int(quantity_number):
        return None, "fractional_quantity"
    quantity = int(quantity_number)
    if quantity == 0:
        return None, "zero_quantity"
    if price < 0:
        return None, "negative_price"
    line = Line(
        invoice=invoice,
        stock_code=stock_code,
        description=" ".join(get("description").split()),
        quantity=quantity,
        price=price,
        invoiced_at=parse_time(get("invoice_date"), formats),
        customer_id=clean_customer_id(get("customer_id")),
        country=" ".join(get("country").split()),
    )
    return line, None


def is_credit(line: Line) -> bool:
    """A credit-note line: its invoice id starts with C, or its quantity is negative."""
    return line.invoice.upper().startswith(CREDIT_NOTE_PREFIX) or line.quantity < 0


@dataclass
class Converted:
    """The contract tables and the conversion counts."""

    tables: dict[str, pa.Table]
    counts: dict[str, int]
    skipped: list[tuple[int, str, list[str]]]


def _most_frequent(counter: Counter) -> str | None:
    """Most frequent non-empty value; ties go to the alphabetically first."""
    candidates = [(-n, value) for value, n in counter.items() if value]
    return min(candidates)[1] if candidates else None


def _orders_and_items(invoices: dict[str, Document]) -> tuple[pa.Table, pa.Table]:
    order_rows, item_rows = [], []
    for invoice_id in sorted(invoices):
        document = invoices[invoice_id]
        total = round(sum(line.quantity * line.price for line in document.lines), MONEY_DECIMALS)
        order_rows.append((invoice_id, document.customer_id, document.at, total, "completed"))
        item_rows.extend(
            (invoice_id, line.stock_code, line.quantity, line.price) for line in document.lines
        )
    return _table("orders", order_rows), _table("order_items", item_rows)


def _refunds(credit_notes: dict[str, Document]) -> pa.Table:
    rows = [
        (note_id, note.customer_id, note.at, note.amount(), None, REFUND_REASON)
        for note_id, note in sorted(credit_notes.items())
    ]
    return pa.Table.from_pylist(
        [dict(zip(REFUNDS_SCHEMA.names, row, strict=True)) for row in rows], schema=REFUNDS_SCHEMA
    )


def _table(name: str, rows: list[tuple]) -> pa.Table:
    schema = SCHEMAS[name]
    return pa.Table.from_pylist(
        [dict(zip(schema.names, row, strict=True)) for row in rows], schema=schema
    )


def convert_rows(
    header: list[str], rows: list[list[str]], date_format: str | None = None
) -> Converted:
    """Turn the export's header and rows into the contract tables (pure, no files)."""
    columns = map_columns(header)
    formats = (date_format,) if date_format else detect_date_formats(_dates(rows, columns))
    return _convert(columns, rows, formats)


def _dates(rows: Iterable[list[str]], columns: dict[str, int]) -> Iterator[str]:
    index = columns["invoice_date"]
    return (row[index] for row in rows if index < len(row))


def _convert(
    columns: dict[str, int], rows: Iterable[list[str]], formats: tuple[str, ...]
) -> Converted:
    """The contract tables from parsed rows (one pass)."""
    invoices: dict[str, Document] = {}
    credit_notes: dict[str, Document] = {}
    descriptions: dict[str, Counter] = defaultdict(Counter)
    countries: dict[str, Counter] = defaultdict(Counter)
    counts: Counter = Counter()
    skipped: list[tuple[int, str, list[str]]] = []
    for line_no, row in enumerate(rows, start=2):
        line, reason = parse_line(row, columns, formats)
        if line is None:
            skipped.append((line_no, reason or "unknown", row))
            counts[f"skipped_{reason}"] += 1
            continue
        if line.invoiced_at is None:
            counts["lines_with_unparseable_date"] += 1
        descriptions[line.stock_code][line.description] += 1
        if line.customer_id:
            countries[line.customer_id][line.country] += 1
        else:
            counts["lines_without_customer"] += 1
        target = credit_notes if is_credit(line) else invoices
        target.setdefault(line.invoice, Document(line.invoice)).lines.append(line)
        counts["credit_lines" if target is credit_notes else "sale_lines"] += 1

    orders, order_items = _orders_and_items(invoices)
    products = _table(
        "products",
        [(code, _most_frequent(descriptions[code]), None) for code in sorted(descriptions)],
    )
    customers = _table(
        "customers",
        [(cid, None, _most_frequent(countries[cid]), None) for cid in sorted(countries)],
    )
    refunds = _refunds(credit_notes)
    counts.update(
        {
            "orders": orders.num_rows,
            "orders_without_customer": sum(d.customer_id is None for d in invoices.values()),
            "order_items": order_items.num_rows,
            "products": products.num_rows,
            "refunds": refunds.num_rows,
            "refunds_without_customer": sum(d.customer_id is None for d in credit_notes.values()),
            "customers": customers.num_rows,
            "documents_with_several_customers": sum(
                len(d.customer_ids) > 1 for d in (*invoices.values(), *credit_notes.values())
            ),
        }
    )
    tables = {
        "orders": orders,
        "order_items": order_items,
        "products": products,
        "refunds": refunds,
        "customers": customers,
    }
    return Converted(tables, dict(sorted(counts.items())), skipped)


def _write_skipped(path: Path, header: list[str], skipped: list[tuple[int, str, list[str]]]):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["line_number", "reason", *header])
        for line_no, reason, row in skipped:
            writer.writerow([line_no, reason, *row])


def convert_file(
    source: Path, out_dir: Path, encoding: str = "utf-8-sig", date_format: str | None = None
) -> Converted:
    """Convert ``source`` (CSV) into Parquet contract tables under ``out_dir``."""
    if not source.is_file():
        raise ConversionError(f"no such export: {source}")
    if source.suffix.lower() in {".xlsx", ".xls"}:
        raise ConversionError(
            f"{source} is a spreadsheet; save it as CSV (UTF-8) first and pass that file"
        )
    formats: tuple[str, ...] | None = (date_format,) if date_format else None
    if formats is None:  # a first pass over the dates only, streaming
        with open_rows(source, encoding) as (header, rows):
            formats = detect_date_formats(_dates(rows, map_columns(header)))
    with open_rows(source, encoding) as (header, rows):
        progress = tqdm(rows, desc="convert lines", unit=" lines", leave=False)
        converted = _convert(map_columns(header), progress, formats)
    if converted.tables["orders"].num_rows == 0:
        raise ConversionError(f"{source} holds no sales invoice line; nothing was written")
    write_converted(converted.tables, out_dir)
    _write_skipped(out_dir / SKIPPED_FILE, header, converted.skipped)
    (out_dir / REPORT_FILE).write_text(
        json.dumps({"source": str(source), "counts": converted.counts}, indent=2) + "\n"
    )
    return converted


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("invoices", __doc__)
    parser.add_argument("--source", type=Path, required=True, help="the invoice-line CSV")
    parser.add_argument("--out", type=Path, required=True, help="output folder (Parquet)")
    parser.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="CSV encoding (default utf-8-sig: UTF-8, with or without a BOM)",
    )
    parser.add_argument(
        "--date-format",
        default=None,
        help="strptime format of InvoiceDate (default: detect ISO, d/m/Y or m/d/Y)",
    )
    return parser


def log_counts(counts: dict[str, int]) -> None:
    """One log line per counted kind."""
    for name, value in counts.items():
        logger.info("%-32s %d", name, value)


def main_invoices(argv: list[str] | None = None) -> int:
    """CLI: ``--source FILE.csv --out DIR [--encoding E] [--date-format F]``."""
    args = _parser().parse_args(argv)
    try:
        converted = convert_file(args.source, args.out, args.encoding, args.date_format)
    except ConversionError as error:
        logger.error("%s", error)
        return 1
    log_counts(converted.counts)
    logger.info("wrote %s (skipped lines with reasons: %s)", args.out, args.out / SKIPPED_FILE)
    return 0
