"""Deliberately broken rows for the synthetic shop, so every bad-input path has data to meet.

:func:`add_dirty_rows` takes the clean tables of :mod:`shopdata.synthetic` and, per table,
adds (or, for reviews, corrupts in place) a ``fraction`` of rows of each kind listed in
:data:`DIRTY_KINDS`: nulls, duplicates, impossible values, future dates, dangling references,
non-ASCII and PII texts. Every kind appears at least once when ``fraction > 0``. All draws come
from the one generator passed in, in a fixed order, so the same seed gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopdata.contract import US_PER_DAY, format_ids, timestamps
from shopdata.vocabulary import DIRTY_NON_ASCII, DIRTY_PII

#: Kinds of deliberately broken rows, per table (each appears at least once when dirty).
DIRTY_KINDS: dict[str, tuple[str, ...]] = {
    "customers": ("duplicate_customer_id", "null_customer_id"),
    "orders": (
        "null_order_id",
        "null_customer_id",
        "duplicate_row",
        "negative_total",
        "nan_total",
        "inf_total",
        "future_ordered_at",
        "unknown_customer",
    ),
    "order_items": ("zero_quantity", "negative_unit_price", "unknown_order"),
    "events": ("null_customer_id", "future_event_at", "duplicate_row"),
    "reviews": (
        "rating_zero",
        "rating_seven",
        "long_text",
        "non_ascii_text",
        "pii_text",
    ),
    "products": (),
}

FUTURE_START = np.datetime64("2099-01-01T00:00:00", "us")
FUTURE_SPAN_DAYS = 364  # future timestamps fall in [FUTURE_START, FUTURE_START + span)
REREGISTRATION_MIN_DAYS = 1  # a duplicate customer signs up again 1..31 days later
REREGISTRATION_SPREAD_DAYS = 30
NEGATIVE_TOTAL_MARGIN = 0.01  # a negative total is at least one cent below zero
OUT_OF_RANGE_RATINGS: dict[str, int] = {"rating_zero": 0, "rating_seven": 7}
LONG_TEXT_MIN_CHARS = 3100  # long texts repeat the review past this many characters
PII_NUMBER_LIMIT = 10_000  # e-mail and phone numbers in PII texts are drawn below this


@dataclass
class IdSpace:
    """Id formats plus counters for fresh ids that never collide with clean ones."""

    n_customers: int
    n_orders: int
    customer_width: int
    order_width: int
    next_customer: int = 0
    next_order: int = 0

    def __post_init__(self) -> None:
        self.next_customer = self.n_customers
        self.next_order = self.n_orders

    def customer_ids(self, numbers: np.ndarray) -> pa.Array:
        """Format customer numbers as ids."""
        return format_ids("c", numbers, self.customer_width)

    def order_ids(self, numbers: np.ndarray) -> pa.Array:
        """Format order numbers as ids."""
        return format_ids("o", numbers, self.order_width)

    def fresh_customers(self, k: int) -> pa.Array:
        """``k`` customer ids that are not in the customers table."""
        self.next_customer += k
        return self.customer_ids(np.arange(self.next_customer - k, self.next_customer))

    def fresh_orders(self, k: int) -> pa.Array:
        """``k`` order ids that are not (yet) in the orders table."""
        self.next_order += k
        return self.order_ids(np.arange(self.next_order - k, self.next_order))


def add_dirty_rows(
    rng: np.random.Generator, tables: dict[str, pa.Table], fraction: float, ids: IdSpace
) -> dict[str, pa.Table]:
    """The shop's tables with ``fraction`` of deliberately broken rows added to each.

    ``tables`` holds the six clean tables; ``ids`` hands out the fresh ids of dangling
    references. Tables are processed in a fixed order (the draws depend on it); products
    stay clean.
    """
    return {
        "customers": _dirty_customers(rng, tables["customers"], fraction),
        "orders": _dirty_orders(rng, tables["orders"], fraction, ids),
        "order_items": _dirty_order_items(rng, tables["order_items"], fraction, ids),
        "products": tables["products"],
        "events": _dirty_events(rng, tables["events"], fraction),
        "reviews": _dirty_reviews(rng, tables["reviews"], fraction),
    }


def n_dirty_rows(n_rows: int, fraction: float, n_kinds: int) -> int:
    """How many dirty rows a table of ``n_rows`` clean rows gets (at least one per kind)."""
    if fraction <= 0 or n_rows == 0 or n_kinds == 0:
        return 0
    return max(n_kinds, round(fraction * n_rows))


# --- helpers --------------------------------------------------------------------------------


def _kind_counts(total: int, n_kinds: int) -> list[int]:
    """Split ``total`` dirty rows as evenly as possible over ``n_kinds`` kinds."""
    return [total // n_kinds + (1 if i < total % n_kinds else 0) for i in range(n_kinds)]


def _with_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Replace column ``name`` of ``table``."""
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), values)


def _future_us(rng: np.random.Generator, k: int) -> pa.Array:
    """``k`` timestamps in the year 2099."""
    offset = (rng.random(k) * FUTURE_SPAN_DAYS * US_PER_DAY).astype(np.int64)
    return timestamps(int(FUTURE_START.astype(np.int64)) + offset)


def _interleave(rng: np.random.Generator, clean: pa.Table, dirty: pa.Table) -> pa.Table:
    """Insert the dirty rows at random positions of the clean table."""
    if dirty.num_rows == 0:
        return clean
    n = clean.num_rows
    positions = np.sort(rng.integers(0, n + 1, dirty.num_rows))
    index = np.insert(np.arange(n, dtype=np.int64), positions, n + np.arange(dirty.num_rows))
    return pa.concat_tables([clean, dirty.cast(clean.schema)]).take(pa.array(index))


def _sample_rows(rng: np.random.Generator, table: pa.Table, k: int) -> pa.Table:
    """``k`` random rows of ``table`` (with replacement if it is small)."""
    idx = rng.choice(table.num_rows, size=k, replace=k > table.num_rows)
    return table.take(pa.array(np.sort(idx)))


def _null_column(table: pa.Table, name: str) -> pa.Table:
    """``table`` with string column ``name`` set to null on every row."""
    return _with_column(table, name, pa.nulls(table.num_rows, pa.string()))


# --- per table ------------------------------------------------------------------------------


def _dirty_customers(rng: np.random.Generator, table: pa.Table, fraction: float) -> pa.Table:
    """Duplicate-id rows (a later re-registration) and rows without a customer id."""
    kinds = DIRTY_KINDS["customers"]
    total = n_dirty_rows(table.num_rows, fraction, len(kinds))
    if total == 0:
        return table
    k_dup, k_null = _kind_counts(total, len(kinds))
    dup = _sample_rows(rng, table, k_dup)
    days_later = REREGISTRATION_MIN_DAYS + rng.random(k_dup) * REREGISTRATION_SPREAD_DAYS
    later = pc.cast(dup["signed_up_at"], pa.int64()).to_numpy() + (days_later * US_PER_DAY).astype(
        np.int64
    )
    dup = _with_column(dup, "signed_up_at", timestamps(later))
    null = _null_column(_sample_rows(rng, table, k_null), "customer_id")
    return _interleave(rng, table, pa.concat_tables([dup, null]))


def _corrupt_order_rows(
    rng: np.random.Generator, kind: str, rows: pa.Table, ids: IdSpace
) -> pa.Table:
    """Break sampled order ``rows`` in the way ``kind`` names."""
    if kind == "duplicate_row":
        return rows
    if kind == "null_order_id":
        return _null_column(rows, "order_id")
    k = rows.num_rows
    rows = _with_column(rows, "order_id", ids.fresh_orders(k))
    totals = rows["order_total"].to_numpy()
    if kind == "null_customer_id":
        return _null_column(rows, "customer_id")
    if kind == "negative_total":
        return _with_column(rows, "order_total", pa.array(-np.abs(totals) - NEGATIVE_TOTAL_MARGIN))
    if kind == "nan_total":
        return _with_column(rows, "order_total", pa.array(np.full(k, np.nan)))
    if kind == "inf_total":
        return _with_column(rows, "order_total", pa.array(np.full(k, np.inf)))
    if kind == "future_ordered_at":
        return _with_column(rows, "ordered_at", _future_us(rng, k))
    if kind == "unknown_customer":
        return _with_column(rows, "customer_id", ids.fresh_customers(k))
    raise ValueError(f"unknown dirty order kind {kind!r}; see DIRTY_KINDS['orders']")


def _dirty_orders(
    rng: np.random.Generator, table: pa.Table, fraction: float, ids: IdSpace
) -> pa.Table:
    """Null ids, duplicates, bad totals, future dates and unknown customers."""
    kinds = DIRTY_KINDS["orders"]
    total = n_dirty_rows(table.num_rows, fraction, len(kinds))
    if total == 0:
        return table
    parts = [
        _corrupt_order_rows(rng, kind, _sample_rows(rng, table, k), ids)
        for kind, k in zip(kinds, _kind_counts(total, len(kinds)), strict=True)
    ]
    return _interleave(rng, table, pa.concat_tables(parts))


def _dirty_order_items(
    rng: np.random.Generator, table: pa.Table, fraction: float, ids: IdSpace
) -> pa.Table:
    """Zero quantities, negative prices and lines of orders that do not exist."""
    kinds = DIRTY_KINDS["order_items"]
    total = n_dirty_rows(table.num_rows, fraction, len(kinds))
    if total == 0:
        return table
    k_zero, k_neg, k_orphan = _kind_counts(total, len(kinds))
    zero = _sample_rows(rng, table, k_zero)
    zero = _with_column(zero, "quantity", pa.array(np.zeros(k_zero, np.int64)))
    neg = _sample_rows(rng, table, k_neg)
    neg = _with_column(neg, "unit_price", pc.negate(neg["unit_price"]))
    orphan = _sample_rows(rng, table, k_orphan)
    orphan = _with_column(orphan, "order_id", ids.fresh_orders(k_orphan))
    return _interleave(rng, table, pa.concat_tables([zero, neg, orphan]))


def _dirty_events(rng: np.random.Generator, table: pa.Table, fraction: float) -> pa.Table:
    """Events without a customer, from the future, or logged twice."""
    kinds = DIRTY_KINDS["events"]
    total = n_dirty_rows(table.num_rows, fraction, len(kinds))
    if total == 0:
        return table
    k_null, k_future, k_dup = _kind_counts(total, len(kinds))
    null = _null_column(_sample_rows(rng, table, k_null), "customer_id")
    future = _sample_rows(rng, table, k_future)
    future = _with_column(future, "event_at", _future_us(rng, k_future))
    dup = _sample_rows(rng, table, k_dup)
    return _interleave(rng, table, pa.concat_tables([null, future, dup]))


def _dirty_review_text(rng: np.random.Generator, kind: str, texts: list[str]) -> list[str]:
    """Corrupt review texts: very long, non-ASCII, or containing an e-mail and phone number."""
    out = []
    for i, text in enumerate(texts):
        k = int(rng.integers(0, PII_NUMBER_LIMIT))
        if kind == "long_text":
            out.append(" ".join([text] * (LONG_TEXT_MIN_CHARS // max(len(text), 1) + 2)))
        elif kind == "non_ascii_text":
            out.append(text + DIRTY_NON_ASCII[(k + i) % len(DIRTY_NON_ASCII)])
        else:
            out.append(text + DIRTY_PII[(k + i) % len(DIRTY_PII)].format(k=k))
    return out


def _dirty_reviews(rng: np.random.Generator, table: pa.Table, fraction: float) -> pa.Table:
    """Out-of-range ratings and problematic texts, corrupted in place (no extra rows)."""
    kinds = DIRTY_KINDS["reviews"]
    total = min(n_dirty_rows(table.num_rows, fraction, len(kinds)), table.num_rows)
    if total == 0:
        return table
    positions = np.sort(rng.choice(table.num_rows, size=total, replace=False))
    labels = rng.permutation(np.repeat(np.arange(len(kinds)), _kind_counts(total, len(kinds))))
    rating = table["rating"].to_numpy().copy()
    texts = table["review_text"].take(pa.array(positions)).to_pylist()
    for j, kind in enumerate(kinds):
        sel = np.flatnonzero(labels == j)
        if kind in OUT_OF_RANGE_RATINGS:
            rating[positions[sel]] = OUT_OF_RANGE_RATINGS[kind]
        else:
            new = _dirty_review_text(rng, kind, [texts[i] for i in sel])
            for i, value in zip(sel, new, strict=True):
                texts[i] = value
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[positions] = True
    text_col = pc.replace_with_mask(
        table["review_text"].combine_chunks(), pa.array(mask), pa.array(texts, pa.string())
    )
    table = _with_column(table, "rating", pa.array(rating, type=pa.int64()))
    return _with_column(table, "review_text", text_col)
