"""A planted signal for the synthetic shop: churn that only the product names reveal.

With ``planted_signal > 0`` (:func:`shopdata.synthetic.generate_shop`, CLI
``--planted-signal X``) the generator adds a customer latent, the *marker affinity*
``a ~ Beta(0.5, 0.5)``, drawn independently of everything else, and two effects of it:

* **What is bought (past and future).** Every catalogue product gets a *marker twin*: the same
  category and list price with a "second-hand" word appended to its name, e.g.
  ``Hardcover Cookbook (Refurbished)`` (words: :data:`MARKER_WORDS`; the suffix survives the
  warehouse's last-three-words product labels). The simulation picks products exactly as
  without the signal; afterwards each ordered or browsed product is shown as its twin when a
  hash of (customer, product) falls below the customer's affinity. The choice is fixed per
  (customer, product), so repeat purchases, distinct-product counts and review de-duplication
  are unchanged, and with ``E[a] = 0.5`` a twin sells about as often as its original: marker
  products have the same prices, category mix and popularity as the others.
* **Churn (future only).** From ``planted_from`` (default: the middle day of the period) on, or
  from the first purchase if that is later, a customer has an extra dropout hazard of
  ``planted_signal * a**2 / LIFETIME_DAYS`` per day (about 30 days to go at strength 1 and
  ``a = 1``; the square keeps low-affinity customers nearly untouched). A customer still
  alive at the drawn time drops out then: later orders (and their items), events and reviews
  are removed.

Everything before ``planted_from`` is the shop without the signal, row for row (order ids,
times, amounts, statuses, quantities, prices, events, ratings), except that product ids, names
and the product words of review texts name the twins; only the dirty rows are drawn anew
(their count follows the table sizes). So at a cutoff on or before ``planted_from`` no
aggregate (counts, spend, recency, tenure, categories, prices, returns, reviews, events) tells
the groups apart; the share of marker products (which products, by name) does. At a later
cutoff the past window already holds some of the extra churn (recency shows it).

Ground truth: the latent table of :func:`shopdata.synthetic.generate_shop_with_latent` gets
``marker_affinity`` and ``planted_dropout_at`` (:data:`TRUTH_SCHEMA`); :func:`marker_share`
computes the observed share of marker products per customer from raw tables or a raw folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopdata.contract import TS, US_PER_DAY

if TYPE_CHECKING:
    from shopdata.synthetic import Catalogue, Orders

__all__ = [
    "AFFINITY_BETA",
    "LIFETIME_DAYS",
    "MARKER_WORDS",
    "TRUTH_SCHEMA",
    "Planting",
    "default_planted_from",
    "is_marker_name",
    "keep_orders",
    "marker_share",
    "plant",
    "planted_from_day",
    "with_twins",
]

#: Words appended to a product's name (in parentheses) for its marker twin: all "second-hand".
MARKER_WORDS: tuple[str, ...] = ("Refurbished", "Pre-owned", "Second-hand", "Used")
#: Beta(a, a) prior of the marker affinity; symmetric, so twins sell as often as originals.
AFFINITY_BETA = 0.5
#: Mean days to the planted dropout at ``planted_signal = 1`` and affinity 1 (hazard ~ a**2).
LIFETIME_DAYS = 30.0

TRUTH_SCHEMA = pa.schema([("marker_affinity", pa.float64()), ("planted_dropout_at", TS)])

_MARKER_RE = re.compile(r"\((?:" + "|".join(map(re.escape, MARKER_WORDS)) + r")\)$")
_MARKER_SQL_RE = r"\((" + "|".join(MARKER_WORDS) + r")\)$"

# splitmix64 constants (a fixed, seedable hash of (customer, product) pairs)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def is_marker_name(name: str) -> bool:
    """Whether a product name is a marker twin's (ends in ``(<marker word>)``)."""
    return bool(_MARKER_RE.search(name))


def default_planted_from(start: str, end: str) -> str:
    """The default start of the planted effect: the middle day of ``[start, end)``."""
    d0, d1 = dt.date.fromisoformat(start[:10]), dt.date.fromisoformat(end[:10])
    return (d0 + dt.timedelta(days=(d1 - d0).days // 2)).isoformat()


def _hash_uniform(salt: np.uint64, customer: np.ndarray, product: np.ndarray) -> np.ndarray:
    """A uniform in [0, 1) per (customer, product) pair: splitmix64 of the pair and ``salt``."""
    z = (customer.astype(np.uint64) << np.uint64(32)) ^ product.astype(np.uint64) ^ salt
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclasses.dataclass
class Planting:
    """The planted signal of one shop: affinities, twins and (once drawn) dropout times.

    Products ``0 .. n_base - 1`` are the catalogue's; product ``p + n_base`` is the marker twin
    of ``p``. Times are days since the clock's start.
    """

    strength: float
    from_t: float
    n_base: int
    affinity: np.ndarray
    salt: np.uint64
    dropout_t: np.ndarray | None = None  # per customer; inf where no planted dropout

    def relabel(self, customer: np.ndarray, product: np.ndarray) -> np.ndarray:
        """Each row's product as the customer sees it: the twin where the pair's hash says so.

        ``product < 0`` (no product) and twins stay as they are, so this is idempotent.
        """
        customer, product = np.asarray(customer), np.asarray(product)
        base = (product >= 0) & (product < self.n_base)
        u = _hash_uniform(self.salt, customer, np.where(base, product, 0))
        swap = base & (u < self.affinity[customer])
        return np.where(swap, product + self.n_base, product)

    def draw_dropouts(
        self,
        rng: np.random.Generator,
        customer: np.ndarray,
        t: np.ndarray,
        dropped_at: np.ndarray,
        horizon: float,
    ) -> None:
        """Planted dropout times from the purchases ``(customer, t)`` and organic dropouts.

        The extra hazard runs from ``max(from_t, first purchase)``; a customer whose organic
        dropout (``dropped_at``, NaN if none) comes first, or whose drawn time is at or after
        ``horizon``, is not affected.
        """
        n = len(self.affinity)
        first_t = np.full(n, np.inf)
        np.minimum.at(first_t, customer, t)
        hazard = self.strength * self.affinity**2 / LIFETIME_DAYS
        wait = rng.exponential(1.0, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            drop_t = np.maximum(self.from_t, first_t) + np.where(hazard > 0, wait / hazard, np.inf)
        organic_first = ~np.isnan(dropped_at) & (dropped_at <= drop_t)
        unaffected = organic_first | ~np.isfinite(first_t) | ~(drop_t < horizon)
        self.dropout_t = np.where(unaffected, np.inf, drop_t)

    def _dropout(self) -> np.ndarray:
        if self.dropout_t is None:
            raise RuntimeError("draw_dropouts first")
        return self.dropout_t

    def keep(self, customer: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Mask of rows (customer index, time in days) at or before the planted dropout."""
        return np.asarray(t) <= self._dropout()[customer]

    def dropped_at(self, dropped_at: np.ndarray) -> np.ndarray:
        """Organic dropout times (NaN = none) with the planted ones added."""
        planted = np.isfinite(self._dropout())
        return np.where(planted, self._dropout(), dropped_at)

    def keep_table(
        self, table: pa.Table, time_column: str, customer_ids: pa.Array, clock_start_us: int
    ) -> pa.Table:
        """Rows of a raw table (clean: every customer id is in ``customer_ids``) to keep."""
        customer = pc.index_in(table["customer_id"], value_set=customer_ids)
        idx = customer.to_numpy(zero_copy_only=False)
        t_us = pc.cast(table[time_column], pa.int64()).to_numpy(zero_copy_only=False)
        t = (t_us - clock_start_us) / US_PER_DAY
        return table.filter(pa.array(self.keep(idx.astype(np.int64), t)))

    def relabel_events(
        self, events: pa.Table, customer_ids: pa.Array, product_ids: pa.Array
    ) -> pa.Table:
        """The events with each viewed / carted product as the customer sees it."""
        customer = pc.index_in(events["customer_id"], value_set=customer_ids)
        product = pc.index_in(events["product_id"], value_set=product_ids)
        c = customer.to_numpy(zero_copy_only=False).astype(np.int64)
        p = pc.fill_null(product, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        shown = self.relabel(c, p)
        mask = shown < 0
        ids = product_ids.take(pa.array(np.where(mask, 0, shown), mask=mask))
        i = events.schema.get_field_index("product_id")
        return events.set_column(i, events.schema.field(i), ids)

    def truth(self, clock_to_us: np.ndarray) -> list[pa.Array]:
        """The :data:`TRUTH_SCHEMA` columns; ``clock_to_us``: planted dropouts in microseconds."""
        planted = np.isfinite(self._dropout())
        return [
            pa.array(self.affinity, type=pa.float64()),
            pa.array(clock_to_us, type=TS, mask=~planted),
        ]


def planted_from_day(strength: float, planted_from: str | None, start: str, end: str) -> float:
    """Validate the arguments; days from ``start`` to ``planted_from`` (default: the middle)."""
    if not (math.isfinite(strength) and strength >= 0.0):
        raise ValueError(f"planted_signal must be a finite number >= 0, got {strength}")
    if strength == 0.0 and planted_from is None:
        return 0.0  # off: nothing to place (a one-day period has no middle day)
    day = default_planted_from(start, end) if planted_from is None else planted_from
    offset = (np.datetime64(day, "us") - np.datetime64(start, "us")) / np.timedelta64(1, "D")
    if not np.datetime64(start, "us") < np.datetime64(day, "us") < np.datetime64(end, "us"):
        raise ValueError(f"planted_from {day} must be inside ({start}, {end})")
    return float(offset)


def plant(
    rng: np.random.Generator,
    strength: float,
    from_t: float,
    n_customers: int,
    names: list[str],
) -> tuple[Planting, list[str]]:
    """Draw affinities, the hash salt and the twins' marker words; returns the twins' names."""
    affinity = rng.beta(AFFINITY_BETA, AFFINITY_BETA, n_customers)
    salt = np.uint64(rng.integers(0, 2**63, dtype=np.int64))
    words = rng.integers(0, len(MARKER_WORDS), len(names))
    twins = [f"{name} ({MARKER_WORDS[w]})" for name, w in zip(names, words, strict=True)]
    return Planting(strength, from_t, len(names), affinity, salt), twins


def with_twins(catalogue: Catalogue, twins: list[str]) -> Catalogue:
    """The catalogue plus the marker twins (after the originals; same category and price).

    Sampling (``pop_key``, ``cat_start``) still draws the originals only.
    """
    return dataclasses.replace(
        catalogue,
        category=np.concatenate([catalogue.category, catalogue.category]),
        price_cents=np.concatenate([catalogue.price_cents, catalogue.price_cents]),
        names=catalogue.names + twins,
    )


def keep_orders(orders: Orders, keep: np.ndarray) -> Orders:
    """The orders where ``keep``, with their items (order indices renumbered)."""
    new_index = np.cumsum(keep) - 1
    line = keep[orders.item_order]
    return dataclasses.replace(
        orders,
        customer=orders.customer[keep],
        t=orders.t[keep],
        status=orders.status[keep],
        total_cents=orders.total_cents[keep],
        item_order=new_index[orders.item_order[line]],
        item_product=orders.item_product[line],
        item_quantity=orders.item_quantity[line],
        item_price_cents=orders.item_price_cents[line],
        campaign=None if orders.campaign is None else orders.campaign[keep],
    )


def marker_share(raw: dict[str, pa.Table] | str | Path, before: str | None = None) -> pa.Table:
    """Observed marker share per customer: order lines on marker products / all order lines.

    ``raw``: the tables of :func:`shopdata.synthetic.generate_shop` or a raw folder of Parquet
    files. Counts lines of orders before ``before`` (YYYY-MM-DD; all orders if None) with a
    customer and a known product. Returns ``customer_id, lines, marker_lines, marker_share``
    for customers with at least one such line, sorted by customer id.
    """
    con = duckdb.connect()
    try:
        for name in ("orders", "order_items", "products"):
            if isinstance(raw, dict):
                con.register(name, raw[name])
            else:
                path = str(Path(raw) / f"{name}.parquet").replace("'", "''")
                con.execute(f"create view {name} as select * from read_parquet('{path}')")
        cutoff = "true"
        if before is not None:  # validated, so safe to inline
            cutoff = f"o.ordered_at < timestamp '{dt.date.fromisoformat(before).isoformat()}'"
        sql = f"""
            select
                o.customer_id,
                count(*) as lines,
                count(*) filter (
                    where regexp_matches(p.product_name, '{_MARKER_SQL_RE}')
                ) as marker_lines,
                marker_lines / lines as marker_share
            from order_items as i
            join orders as o on i.order_id = o.order_id
            join products as p on i.product_id = p.product_id
            where o.customer_id is not null and {cutoff}
            group by o.customer_id
            order by o.customer_id
        """
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
