"""The raw data contract shared by every dataset builder: table names, Arrow schemas, writer.

:mod:`shopdata.synthetic`, :mod:`shopdata.invoices` and :mod:`shopdata.completejourney` all
produce these six tables and write them with :func:`write_shop`; the dbt staging models read
them. Also the small Arrow helpers for ids and timestamps that the generators share.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

TABLE_NAMES: tuple[str, ...] = (
    "customers",
    "orders",
    "order_items",
    "products",
    "events",
    "reviews",
)

TS = pa.timestamp("us")

SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("signed_up_at", TS),
            ("country", pa.string()),
            ("acquisition_channel", pa.string()),
        ]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("ordered_at", TS),
            ("order_total", pa.float64()),
            ("status", pa.string()),
        ]
    ),
    "order_items": pa.schema(
        [
            ("order_id", pa.string()),
            ("product_id", pa.string()),
            ("quantity", pa.int64()),
            ("unit_price", pa.float64()),
        ]
    ),
    "products": pa.schema(
        [
            ("product_id", pa.string()),
            ("product_name", pa.string()),
            ("category", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("event_at", TS),
            ("event_type", pa.string()),
            ("product_id", pa.string()),
            ("search_query", pa.string()),
        ]
    ),
    "reviews": pa.schema(
        [
            ("customer_id", pa.string()),
            ("product_id", pa.string()),
            ("reviewed_at", TS),
            ("rating", pa.int64()),
            ("review_text", pa.string()),
        ]
    ),
}

US_PER_DAY = 86_400_000_000
PARQUET_ROW_GROUP_SIZE = 1 << 20


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded string ids such as ``c0000123`` for integer ``numbers``."""
    digits = pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width=width, padding="0"), "")


def timestamps(us: np.ndarray) -> pa.Array:
    """int64 microseconds since the epoch -> ``timestamp[us]`` array."""
    return pa.array(np.asarray(us, dtype=np.int64), type=TS)


def command_parser(command: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of `python -m shopdata <command>`, its help the module's `doc`."""
    return argparse.ArgumentParser(
        prog=f"python -m shopdata {command}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def write_shop(tables: dict[str, pa.Table], out_dir: str | Path) -> None:
    """Write each table to ``<out_dir>/<name>.parquet`` (zstd); same input -> same bytes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        path = out / f"{name}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd", row_group_size=PARQUET_ROW_GROUP_SIZE)
        tmp.replace(path)
        logger.info("wrote %s (%d rows)", path, table.num_rows)
