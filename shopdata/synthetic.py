"""Seeded, deterministic synthetic e-commerce shop in the project's raw data contract.

The generator simulates a web shop with "buy till you die" (BG/NBD-style) customers, so the
data carries a real CLV / churn signal:

* customers sign up over ``[start, end)`` with growing acquisition; country and acquisition
  channel modestly shift their latent purchase rate and dropout probability;
* each customer has a purchase rate ``lambda ~ Gamma`` (per day) and a dropout probability
  ``p ~ Beta`` that is applied after every purchase; the first purchase happens at or shortly
  after signup, later ones follow a Poisson process with rate ``lambda * season(t)`` (a mild
  yearly wave plus a Black-Friday / December peak, simulated by thinning);
* orders hold 1-4 items drawn from a catalogue of a few hundred named products in ten
  categories, following each customer's Dirichlet category preferences;
* browsing events (views, searches, add-to-carts) precede purchases, and background browsing
  runs at a rate tied to ``lambda`` while the customer is alive and decays after dropout;
* some orders get a review whose rating and text tone fall with the customer's dropout
  probability (and with returns);
* with ``dirty_fraction > 0`` each table gets that fraction of deliberately broken rows
  (nulls, duplicates, impossible values, future dates, dangling references, PII, ...), see
  :mod:`shopdata.dirty`.
* with a :class:`CampaignEffect` a campaign has a known effect: every customer with a purchase
  before its start date whose arm (:func:`shopdata.campaigns.assign_arm`, the hash the
  warehouse uses) is ``treatment`` makes one extra, completed purchase at a uniform time in
  ``[start, start + measurement_days)`` with probability ``extra_purchase_probability``; the
  campaign row is written next to the tables (``campaigns``) so the warehouse assigns and
  measures it. Off by default (the tables are then byte-identical to a shop without it).
* with ``planted_signal > 0`` a churn effect that only product names reveal (marker twins
  such as "... (Refurbished)" bought by customers with a latent affinity that raises their
  dropout hazard after ``planted_from``), see :mod:`shopdata.planted`. Off by default.

Everything is vectorised numpy; the only loop in the purchase simulation runs over purchase
*candidates* with a shrinking active set. The same arguments always give identical tables.
The words (countries, channels, product names, search queries, review phrases) live in
:mod:`shopdata.vocabulary`, the table schemas and the writer in :mod:`shopdata.contract`.

Public API: :func:`generate_shop`, :func:`generate_shop_with_latent`, :func:`write_shop`,
:func:`main_synthetic` (the ``python -m shopdata synthetic`` command).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from shopdata.campaigns import ALL_SEGMENTS, TREATMENT, Campaign, assign_arm
from shopdata.contract import (
    SCHEMAS,
    TABLE_NAMES,
    TS,
    US_PER_DAY,
    format_ids,
    timestamps,
    write_shop,
)
from shopdata.dirty import DIRTY_KINDS, IdSpace, add_dirty_rows
from shopdata.planted import TRUTH_SCHEMA as PLANTED_TRUTH_SCHEMA
from shopdata.planted import Planting, keep_orders, plant, planted_from_day, with_twins
from shopdata.vocabulary import (
    BEST_QUERY_PREFIX,
    CATEGORIES,
    CATEGORY_QUERY_TEMPLATES,
    CHANNELS,
    CHEAP_QUERY_PREFIX,
    COUNTRIES,
    DROPOUT_MULTIPLIER,
    NAME,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    RATE_MULTIPLIER,
    REVIEW_CLOSERS,
    REVIEW_DETAILS,
    REVIEW_OPENERS,
    REVIEW_PRODUCT_SENTENCES,
    SHARE,
    Category,
)

__all__ = [
    "DIRTY_KINDS",
    "LATENT_SCHEMA",
    "SCHEMAS",
    "TABLE_NAMES",
    "TS",
    "CampaignEffect",
    "generate_shop",
    "generate_shop_with_latent",
    "main_synthetic",
    "write_shop",
]

logger = logging.getLogger(__name__)

LATENT_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("purchase_rate", pa.float64()),
        ("dropout_prob", pa.float64()),
        ("return_propensity", pa.float64()),
        ("rating_leniency", pa.float64()),
        ("dropped_out_at", TS),
        ("is_alive_at_end", pa.bool_()),
    ]
)

DEFAULT_START = "2023-01-01"
DEFAULT_END = "2025-12-31"
DEFAULT_DIRTY_FRACTION = 0.002
MAX_DIRTY_FRACTION = 0.5  # exclusive

DAYS_PER_YEAR = 365.2425
HOURS_PER_DAY = 24.0
MINUTES_PER_DAY = 1440.0
CENTS_PER_UNIT = 100
EVENT_TYPES: tuple[str, ...] = ("view", "search", "add_to_cart")
VIEW, SEARCH, ADD_TO_CART = 0, 1, 2
STATUSES: tuple[str, ...] = ("completed", "returned", "cancelled")
COMPLETED, RETURNED, CANCELLED = 0, 1, 2

# --- latent behaviour -----------------------------------------------------------------------
RATE_SHAPE = 0.9  # Gamma shape of the purchase rate (per day)
RATE_SCALE = 1.0 / 55.0  # Gamma scale: mean gap between purchases ~ 60 days
RATE_BOUNDS = (1e-4, 0.15)
DROPOUT_A, DROPOUT_B = 1.1, 3.6  # Beta prior of the dropout probability (mean ~0.23)
DROPOUT_BOUNDS = (0.005, 0.95)
ACQUISITION_GROWTH = 2.0  # signup density grows linearly to (1 + growth) x the initial level
SIGNUP_MAX_FRACTION = 1.0 - 1e-12  # of the horizon: every signup is strictly before ``end``
RETURN_A, RETURN_B = 1.2, 30.0  # Beta prior of the return propensity (mean ~0.04)
RETURN_DROPOUT_EFFECT = 0.08  # customers likely to leave also return more
RETURN_PROPENSITY_MAX = 0.6
CATEGORY_PREF_CONCENTRATION = 0.35  # Dirichlet concentration per category (low: focused)

SEASON_YEARLY_AMP = 0.12  # cosine wave, high in winter, low in summer
SEASON_PEAK_AMP = 0.9  # Black Friday / December bump
SEASON_PEAK_DOY = 334.0  # ~ 1 December (0-based day of year)
SEASON_PEAK_SD = 13.0
SEASON_MAX = 1.0 + SEASON_YEARLY_AMP + SEASON_PEAK_AMP

# --- purchases ------------------------------------------------------------------------------
FIRST_PURCHASE_QUICK_P = 0.5  # share of customers who buy within minutes of signing up
FIRST_PURCHASE_QUICK_MEAN_DAYS = 15.0 / MINUTES_PER_DAY
FIRST_PURCHASE_SLOW_MEAN_DAYS = 3.0
PROGRESS_POSTFIX_EVERY = 20  # simulation steps between updates of the active-customer count

# --- catalogue ------------------------------------------------------------------------------
PRODUCTS_PER_DECADE = 100  # catalogue size grows by this per 10x customers ...
PRODUCTS_BOUNDS = (200, 800)  # ... within these bounds
MIN_PRODUCTS_PER_CATEGORY = 5
PRICE_LOG_SD = 0.45  # lognormal spread of list prices around the category median
MIN_PRICE_CENTS = CENTS_PER_UNIT
CHARM_PRICE_CENTS = 1  # list prices end in .99
POPULARITY_ZIPF_EXPONENT = 0.9
QUERY_ADJECTIVE_OFFSETS = (0, 5)  # noun j is searched with adjectives j and j + 5
CHEAP_QUERY_EVERY = 3  # every third noun (j % 3 == 0) gets a "cheap ..." query
BEST_QUERY_EVERY, BEST_QUERY_REMAINDER = 4, 1  # nouns with j % 4 == 1 get a "best ..." query

# --- orders ---------------------------------------------------------------------------------
ITEMS_PER_ORDER_P = (0.55, 0.25, 0.13, 0.07)  # 1..4 lines
QUANTITY_P = (0.78, 0.15, 0.04, 0.02, 0.01)  # 1..5 units
MAX_REDRAW_ROUNDS = 6  # re-draws of products repeated within an order before dropping lines
CANCEL_BASE = 0.02
CANCEL_DROPOUT_EFFECT = 0.03
PRICE_DRIFT_PER_YEAR = 0.03
#: Season multiplier above which the peak sale runs.
PEAK_SALE_SEASON = 1.0 + SEASON_YEARLY_AMP + 0.3 * SEASON_PEAK_AMP
PEAK_SALE_P, PEAK_SALE_DISCOUNT = 0.35, 0.15  # share of discounted lines, discount
PROMO_P, PROMO_DISCOUNT = 0.05, 0.10  # year-round promotions

# --- events ---------------------------------------------------------------------------------
BACKGROUND_RATE_PER_PURCHASE = 0.7  # background browsing events per unit of purchase rate
BACKGROUND_BASE_RATE = 0.002  # events per day regardless of the purchase rate
BACKGROUND_DECAY_DAYS = 30.0  # browsing fades with this time constant after dropout
BACKGROUND_TYPE_P = (0.72, 0.18, 0.10)  # view, search, add_to_cart
SESSION_MIN_DAYS = 5.0 / MINUTES_PER_DAY  # a shopping session before an order lasts 5 min ...
SESSION_MEAN_EXTRA_DAYS = 8.0 / HOURS_PER_DAY  # ... plus an exponential extra (mean 8 h) ...
SESSION_MAX_TENURE_SHARE = 0.98  # ... but starts after signup
FUNNEL_SEARCH_P = 0.25  # an order is preceded by a search for its first item's category
FUNNEL_VIEW_P = 0.6  # an ordered item was viewed first
FUNNEL_CART_P = 0.5  # an ordered item has an add-to-cart event
#: When in the session (fraction of its length before the order) each funnel step happens.
FUNNEL_SEARCH_AT = (0.85, 1.0)
FUNNEL_VIEW_AT = (0.2, 0.85)
FUNNEL_CART_AT = (0.01, 0.2)

# --- reviews --------------------------------------------------------------------------------
REVIEW_P = {COMPLETED: 0.18, RETURNED: 0.35, CANCELLED: 0.0}
REVIEW_MIN_DELAY_DAYS = 2.0
REVIEW_MEAN_EXTRA_DELAY_DAYS = 6.0
# Rating model: z = BASE - DROPOUT_EFFECT * p - RETURN_EFFECT * returned + leniency + noise.
RATING_BASE = 1.75
RATING_DROPOUT_EFFECT = 3.5
RATING_RETURN_EFFECT = 1.4
RATING_LENIENCY_SD = 0.45
RATING_NOISE_SD = 0.75
RATING_CUTS = (-0.55, -0.05, 0.45, 1.05)  # z thresholds for 2, 3, 4, 5 stars
NEGATIVE_MAX_RATING, NEUTRAL_RATING = 2, 3  # review text tone by star rating

# --- ids ------------------------------------------------------------------------------------
PRODUCT_ID_DIGITS, CUSTOMER_ID_DIGITS, ORDER_ID_DIGITS = 4, 7, 8  # at least
#: Id widths leave room for the fresh ids of dirty rows: ``factor * n + extra``.
ID_HEADROOM_FACTOR, ID_HEADROOM_EXTRA = 2, 10_000


@dataclass
class Customers:
    """Per-customer arrays: observed attributes and latent behaviour (index = customer)."""

    signup_t: np.ndarray  # days since start
    country: np.ndarray  # index into COUNTRIES
    channel: np.ndarray  # index into CHANNELS
    rate: np.ndarray  # purchases per day (before seasonality)
    dropout: np.ndarray  # dropout probability after each purchase
    return_propensity: np.ndarray
    leniency: np.ndarray  # reviewer's personal rating offset
    pref_cum: np.ndarray  # (n_categories, n) cumulative category preferences


@dataclass
class Catalogue:
    """Products sorted by category, with popularity and list prices."""

    category: np.ndarray  # category index per product
    cat_start: np.ndarray  # first product of each category (len n_categories + 1)
    pop_key: np.ndarray  # category + cumulative popularity within the category
    price_cents: np.ndarray
    names: list[str]
    queries: pa.Array  # all search queries, grouped by category
    query_start: np.ndarray  # first query of each category (len n_categories + 1)


@dataclass
class Purchases:
    """All simulated purchases (unsorted) and each customer's dropout time."""

    customer: np.ndarray
    t: np.ndarray
    dropped_at: np.ndarray  # days since start; NaN while alive at the end
    campaign: np.ndarray | None = None  # True for a purchase made because of the campaign


@dataclass(frozen=True)
class CampaignEffect:
    """A campaign on every customer (segment '*') with a known effect on treatment customers.

    Each customer with a purchase before ``start`` is eligible; the treatment arm among them
    makes one extra, completed purchase in ``[start, start + measurement_days)`` with
    probability ``extra_purchase_probability``. The warehouse assigns the campaign on the
    start day only (end_date = start + 1 day).
    """

    campaign_id: str
    start: str
    holdout_share: float = 0.5
    measurement_days: int = 90
    extra_purchase_probability: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.extra_purchase_probability <= 1.0:
            raise ValueError(
                "extra_purchase_probability must be > 0 and <= 1, "
                f"got {self.extra_purchase_probability}"
            )
        self.campaign()  # validates the rest

    def campaign(self) -> Campaign:
        """The campaign row the warehouse reads (raw table ``campaigns``)."""
        start = dt.date.fromisoformat(self.start)
        return Campaign(
            campaign_id=self.campaign_id,
            segment=ALL_SEGMENTS,
            campaign_action=f"synthetic: extra purchase, p = {self.extra_purchase_probability}",
            holdout_share=self.holdout_share,
            start_date=start,
            end_date=start + dt.timedelta(days=1),
            measurement_days=self.measurement_days,
        )


@dataclass
class Orders:
    """Orders sorted by time, with their items (grouped by order)."""

    customer: np.ndarray
    t: np.ndarray
    status: np.ndarray
    total_cents: np.ndarray
    item_order: np.ndarray
    item_product: np.ndarray
    item_quantity: np.ndarray
    item_price_cents: np.ndarray
    campaign: np.ndarray | None = None  # campaign purchases (always completed)


@dataclass(frozen=True)
class Clock:
    """Conversion between simulation time (float days since start) and timestamps."""

    start_us: int
    end_us: int
    start_doy: float

    @property
    def horizon(self) -> float:
        """Length of the simulated period in days."""
        return (self.end_us - self.start_us) / US_PER_DAY

    def to_us(self, t: np.ndarray) -> np.ndarray:
        """Days since start -> int64 microseconds since the epoch, clipped below ``end``."""
        us = self.start_us + np.round(np.asarray(t, dtype=np.float64) * US_PER_DAY)
        return np.minimum(us.astype(np.int64), self.end_us - 1)

    def season(self, t: np.ndarray) -> np.ndarray:
        """Seasonal purchase-intensity multiplier at times ``t`` (in [~0.88, SEASON_MAX])."""
        doy = np.mod(self.start_doy + t, DAYS_PER_YEAR)
        yearly = SEASON_YEARLY_AMP * np.cos(2.0 * np.pi * doy / DAYS_PER_YEAR)
        dist = np.abs(doy - SEASON_PEAK_DOY)
        dist = np.minimum(dist, DAYS_PER_YEAR - dist)
        peak = SEASON_PEAK_AMP * np.exp(-0.5 * (dist / SEASON_PEAK_SD) ** 2)
        return 1.0 + yearly + peak


def make_clock(start: str, end: str) -> Clock:
    """Build the clock for the period ``[start, end)`` (ISO dates)."""
    start_ts = np.datetime64(start, "us")
    end_ts = np.datetime64(end, "us")
    if end_ts <= start_ts:
        raise ValueError(f"end ({end}) must be after start ({start})")
    year_start = start_ts.astype("datetime64[Y]").astype("datetime64[us]")
    start_doy = float((start_ts - year_start) / np.timedelta64(1, "D"))
    return Clock(int(start_ts.astype(np.int64)), int(end_ts.astype(np.int64)), start_doy)


# --- small helpers --------------------------------------------------------------------------


def _rngs(seed: int, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """Independent PCG64 streams per stage, all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {
        name: np.random.Generator(np.random.PCG64(child))
        for name, child in zip(names, children, strict=True)
    }


def _id_width(minimum: int, largest: int) -> int:
    """Digits needed for ids up to ``largest``, at least ``minimum``."""
    return max(minimum, len(str(max(largest, 0))))


def _take_or_null(values: pa.Array, index: np.ndarray) -> pa.Array:
    """``values[index]`` with nulls where ``index < 0``."""
    index = np.asarray(index)
    mask = index < 0
    return values.take(pa.array(np.where(mask, 0, index), mask=mask if mask.any() else None))


def _categorical(rng: np.random.Generator, probs: np.ndarray, size: int) -> np.ndarray:
    """Draw ``size`` category indices with probabilities ``probs``."""
    cum = np.cumsum(np.asarray(probs, dtype=np.float64))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(cum) - 1)


def _gaps_to_starts(counts: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive groups with the given sizes."""
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return starts


def _position_in_group(group: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Position of each row inside its (contiguous) group."""
    return np.arange(len(group), dtype=np.int64) - starts[group]


@contextmanager
def _stage(bar: tqdm, name: str) -> Iterator[None]:
    """Log and time one generation stage, then advance the stage progress bar."""
    bar.set_postfix_str(name)
    began = time.perf_counter()
    yield
    logger.debug("stage %s took %.2fs", name, time.perf_counter() - began)
    bar.update(1)


# --- customers ------------------------------------------------------------------------------


def _signup_times(rng: np.random.Generator, n: int, horizon: float) -> np.ndarray:
    """Sorted signup times with a linearly growing density (inverse-CDF sampling)."""
    a = ACQUISITION_GROWTH
    u = rng.random(n)
    x = (-1.0 + np.sqrt(1.0 + 2.0 * a * u * (1.0 + a / 2.0))) / a
    return np.sort(np.clip(x, 0.0, SIGNUP_MAX_FRACTION) * horizon)


def _column(table: tuple[tuple[str, float, float, float], ...], i: int) -> np.ndarray:
    """Column ``i`` of a vocabulary table such as :data:`COUNTRIES` as an array."""
    return np.array([row[i] for row in table])


def make_customers(rng: np.random.Generator, n: int, horizon: float) -> Customers:
    """Draw signup times, attributes and latent BG/NBD parameters for ``n`` customers."""
    signup_t = _signup_times(rng, n, horizon)
    country = _categorical(rng, _column(COUNTRIES, SHARE), n).astype(np.int16)
    channel = _categorical(rng, _column(CHANNELS, SHARE), n).astype(np.int16)
    rate_mult = (
        _column(COUNTRIES, RATE_MULTIPLIER)[country] * _column(CHANNELS, RATE_MULTIPLIER)[channel]
    )
    drop_mult = (
        _column(COUNTRIES, DROPOUT_MULTIPLIER)[country]
        * _column(CHANNELS, DROPOUT_MULTIPLIER)[channel]
    )
    rate = np.clip(rng.gamma(RATE_SHAPE, RATE_SCALE, n) * rate_mult, *RATE_BOUNDS)
    dropout = np.clip(rng.beta(DROPOUT_A, DROPOUT_B, n) * drop_mult, *DROPOUT_BOUNDS)
    return_propensity = np.clip(
        rng.beta(RETURN_A, RETURN_B, n) + RETURN_DROPOUT_EFFECT * dropout,
        0.0,
        RETURN_PROPENSITY_MAX,
    )
    leniency = rng.normal(0.0, RATING_LENIENCY_SD, n)
    weights = np.array([c.weight for c in CATEGORIES])
    alpha = CATEGORY_PREF_CONCENTRATION * len(CATEGORIES) * weights / weights.sum()
    prefs = rng.dirichlet(alpha, n)
    pref_cum = np.ascontiguousarray(np.cumsum(prefs, axis=1).T)
    return Customers(
        signup_t, country, channel, rate, dropout, return_propensity, leniency, pref_cum
    )


# --- catalogue ------------------------------------------------------------------------------


def _query_phrases(category: Category) -> list[str]:
    """Short lower-case search queries built from a category's words."""

    def clean(s: str) -> str:
        return s.lower().replace("-", " ").replace("'", "")

    n_adj = len(category.adjectives)
    phrases: list[str] = []
    for j, noun in enumerate(category.nouns):
        phrases.append(clean(noun))
        for offset in QUERY_ADJECTIVE_OFFSETS:
            phrases.append(clean(f"{category.adjectives[(j + offset) % n_adj]} {noun}"))
        if j % CHEAP_QUERY_EVERY == 0:
            phrases.append(clean(f"{CHEAP_QUERY_PREFIX} {noun}"))
        if j % BEST_QUERY_EVERY == BEST_QUERY_REMAINDER:
            phrases.append(clean(f"{BEST_QUERY_PREFIX} {noun}"))
    phrases.extend(t.format(category=category.name) for t in CATEGORY_QUERY_TEMPLATES)
    return list(dict.fromkeys(phrases))


def n_products_for(n_customers: int) -> int:
    """Catalogue size: a few hundred products, growing mildly with the customer count."""
    decades = np.log10(max(n_customers, 10))
    return int(np.clip(round(PRODUCTS_PER_DECADE * decades), *PRODUCTS_BOUNDS))


@dataclass
class _CategoryProducts:
    """The products of one category, before the catalogue concatenates them."""

    names: list[str]
    price_cents: np.ndarray
    pop_key: np.ndarray  # category index + cumulative popularity in (0, 1]


def _category_products(
    rng: np.random.Generator, c: int, cat: Category, k: int
) -> _CategoryProducts:
    """``k`` distinct "Adjective Noun" products of category ``c`` with prices and popularity."""
    n_adj, n_noun = len(cat.adjectives), len(cat.nouns)
    k = int(min(k, n_adj * n_noun))
    combos = rng.choice(n_adj * n_noun, size=k, replace=False)
    names = [f"{cat.adjectives[i // n_noun]} {cat.nouns[i % n_noun]}" for i in combos]
    price = cat.median_price * rng.lognormal(0.0, PRICE_LOG_SD, k)
    whole_units = np.round(price).astype(np.int64) * CENTS_PER_UNIT
    price_cents = np.maximum(MIN_PRICE_CENTS, whole_units) - CHARM_PRICE_CENTS
    popularity = rng.permutation(1.0 / np.arange(1, k + 1) ** POPULARITY_ZIPF_EXPONENT)
    cum = np.cumsum(popularity)
    cum /= cum[-1]
    cum[-1] = 1.0
    return _CategoryProducts(names, price_cents, c + cum)


def make_catalogue(rng: np.random.Generator, n_customers: int) -> Catalogue:
    """Products with unique "Adjective Noun" names, category prices and Zipf-ish popularity."""
    n_total = n_products_for(n_customers)
    weights = np.array([c.weight for c in CATEGORIES])
    per_cat = np.maximum(
        MIN_PRODUCTS_PER_CATEGORY, np.round(n_total * weights / weights.sum()).astype(np.int64)
    )
    parts = [
        _category_products(rng, c, cat, k)
        for c, (cat, k) in enumerate(zip(CATEGORIES, per_cat, strict=True))
    ]
    phrases = [_query_phrases(cat) for cat in CATEGORIES]
    category = np.repeat(np.arange(len(parts), dtype=np.int64), [len(p.names) for p in parts])
    return Catalogue(
        category=category,
        cat_start=_gaps_to_starts(np.bincount(category, minlength=len(CATEGORIES))),
        pop_key=np.concatenate([p.pop_key for p in parts]),
        price_cents=np.concatenate([p.price_cents for p in parts]),
        names=[name for p in parts for name in p.names],
        queries=pa.array([q for group in phrases for q in group], type=pa.string()),
        query_start=_gaps_to_starts(np.array([len(group) for group in phrases])),
    )


def _sample_categories(
    rng: np.random.Generator, customers: Customers, who: np.ndarray
) -> np.ndarray:
    """One category per row, from the preferences of customer ``who``."""
    u = rng.random(len(who))
    cat = np.zeros(len(who), dtype=np.int64)
    for k in range(customers.pref_cum.shape[0] - 1):
        cat += u > customers.pref_cum[k][who]
    return cat


def _sample_products(rng: np.random.Generator, catalogue: Catalogue, cat: np.ndarray) -> np.ndarray:
    """One product per row within category ``cat``, by popularity."""
    idx = np.searchsorted(catalogue.pop_key, cat + rng.random(len(cat)), side="right")
    return np.minimum(idx, catalogue.cat_start[cat + 1] - 1)


def _sample_queries(rng: np.random.Generator, catalogue: Catalogue, cat: np.ndarray) -> np.ndarray:
    """One search query index per row within category ``cat``."""
    lo, hi = catalogue.query_start[cat], catalogue.query_start[cat + 1]
    return lo + (rng.random(len(cat)) * (hi - lo)).astype(np.int64)


# --- purchase simulation --------------------------------------------------------------------


def _first_purchases(
    rng: np.random.Generator, customers: Customers, horizon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First purchase after signup (minutes for some, days for others) and dropout after it.

    Returns the customers who bought before ``horizon``, their purchase times and whether
    they dropped out right after.
    """
    n = len(customers.rate)
    quick = rng.random(n) < FIRST_PURCHASE_QUICK_P
    delay = np.where(
        quick,
        rng.exponential(FIRST_PURCHASE_QUICK_MEAN_DAYS, n),
        rng.exponential(FIRST_PURCHASE_SLOW_MEAN_DAYS, n),
    )
    first_t = customers.signup_t + delay
    idx = np.flatnonzero(first_t < horizon)
    t = first_t[idx]
    drop = rng.random(len(idx)) < customers.dropout[idx]
    return idx, t, drop


def simulate_purchases(
    rng: np.random.Generator, customers: Customers, clock: Clock, show_progress: bool
) -> Purchases:
    """BG/NBD-style simulation: seasonal Poisson purchases until dropout or the horizon.

    Loops over purchase *candidates* (thinning) with a shrinking active set; each iteration
    handles every still-active customer at once.
    """
    horizon = clock.horizon
    idx, t, drop = _first_purchases(rng, customers, horizon)
    out_c, out_t = [idx], [t]
    dropped_at = np.full(len(customers.rate), np.nan)
    dropped_at[idx[drop]] = t[drop]
    idx, t = idx[~drop], t[~drop]
    max_rate = customers.rate * SEASON_MAX
    with tqdm(
        desc="purchase simulation", unit="step", leave=False, disable=not show_progress
    ) as bar:
        while len(idx):
            t = t + rng.exponential(1.0, len(idx)) / max_rate[idx]
            inside = t < horizon
            idx, t = idx[inside], t[inside]
            accept = rng.random(len(idx)) * SEASON_MAX < clock.season(t)
            a_idx, a_t = idx[accept], t[accept]
            out_c.append(a_idx)
            out_t.append(a_t)
            drop = rng.random(len(a_idx)) < customers.dropout[a_idx]
            dropped_at[a_idx[drop]] = a_t[drop]
            keep = ~accept
            keep[accept] = ~drop
            idx, t = idx[keep], t[keep]
            bar.update(1)
            if bar.n % PROGRESS_POSTFIX_EVERY == 0:
                bar.set_postfix(active=len(idx))
    return Purchases(np.concatenate(out_c), np.concatenate(out_t), dropped_at)


# --- campaign with a known effect -----------------------------------------------------------


@dataclass
class CampaignDraws:
    """Per customer: eligible (a purchase before the start), treatment arm, extra purchase."""

    start_t: float  # days since the clock's start
    end_t: float  # end of the measurement window, clipped to the horizon
    eligible: np.ndarray
    treatment: np.ndarray
    extra: np.ndarray  # the coin, drawn for every customer: the effect if treated


def _day_offset(clock: Clock, day: str) -> float:
    """Days from the clock's start to midnight of ``day`` (YYYY-MM-DD)."""
    us = int(np.datetime64(day, "us").astype(np.int64))
    return (us - clock.start_us) / US_PER_DAY


def draw_campaign(
    rng: np.random.Generator,
    effect: CampaignEffect,
    purchases: Purchases,
    customer_ids: pa.Array,
    clock: Clock,
) -> CampaignDraws:
    """Who is eligible, their arm (the warehouse's hash) and the extra-purchase coin."""
    start_t = _day_offset(clock, effect.start)
    if not 0.0 < start_t < clock.horizon:
        raise ValueError(f"campaign start {effect.start} must be inside the simulated period")
    n = len(customer_ids)
    first_t = np.full(n, np.inf)
    np.minimum.at(first_t, purchases.customer, purchases.t)
    eligible = first_t < start_t
    treatment = np.array(
        [
            assign_arm(effect.campaign_id, customer_id, effect.holdout_share) == TREATMENT
            for customer_id in customer_ids.to_pylist()
        ],
        dtype=bool,
    )
    extra = rng.random(n) < effect.extra_purchase_probability
    end_t = min(start_t + effect.measurement_days, clock.horizon)
    return CampaignDraws(start_t, end_t, eligible, treatment, extra)


def add_campaign_purchases(
    rng: np.random.Generator, draws: CampaignDraws, purchases: Purchases
) -> Purchases:
    """The purchases plus one extra purchase per treated, eligible customer whose coin says so."""
    who = np.flatnonzero(draws.eligible & draws.treatment & draws.extra)
    logger.info(
        "campaign: %d eligible customers, %d in treatment, %d extra purchases",
        draws.eligible.sum(),
        (draws.eligible & draws.treatment).sum(),
        len(who),
    )
    t = draws.start_t + rng.random(len(who)) * (draws.end_t - draws.start_t)
    t = np.minimum(t, np.nextafter(draws.end_t, draws.start_t))
    return Purchases(
        customer=np.concatenate([purchases.customer, who]),
        t=np.concatenate([purchases.t, t]),
        dropped_at=purchases.dropped_at,
        campaign=np.concatenate(
            [np.zeros(len(purchases.t), dtype=bool), np.ones(len(who), dtype=bool)]
        ),
    )


def campaign_truth(draws: CampaignDraws, orders: Orders, customer_ids: pa.Array) -> pa.Table:
    """Ground truth per customer: arm, the extra-purchase coin and organic retention.

    ``campaign_organic_retained``: a completed purchase not caused by the campaign in the
    measurement window (the outcome without the campaign). With the campaign a customer is
    retained when organic or (treated and the coin says so), so the true effect on retention
    over a set of eligible customers is the mean of ``extra and not organic``.
    """
    in_window = (
        (orders.t >= draws.start_t)
        & (orders.t < draws.end_t)
        & (orders.status == COMPLETED)
        & ~orders.campaign
    )
    organic = np.bincount(orders.customer[in_window], minlength=len(customer_ids)) > 0
    arm = np.where(draws.treatment, "treatment", "holdout")
    return pa.table(
        {
            "customer_id": customer_ids,
            "campaign_eligible": pa.array(draws.eligible),
            "campaign_arm": pa.array(arm, type=pa.string()),
            "campaign_extra_purchase": pa.array(draws.extra),
            "campaign_organic_retained": pa.array(organic),
        }
    )


# --- orders and items -----------------------------------------------------------------------


def _dedupe_lines(
    rng: np.random.Generator,
    catalogue: Catalogue,
    item_order: np.ndarray,
    item_cat: np.ndarray,
    product: np.ndarray,
    pos: np.ndarray,
) -> np.ndarray:
    """Re-draw products repeated within an order; returns a mask of lines to keep."""
    max_pos = len(ITEMS_PER_ORDER_P) - 1

    def repeated() -> np.ndarray:
        dup = np.zeros(len(product), dtype=bool)
        for d in range(1, max_pos + 1):
            same = np.zeros(len(product), dtype=bool)
            same[d:] = (product[d:] == product[:-d]) & (item_order[d:] == item_order[:-d])
            dup |= same & (pos >= d)
        return dup

    for _ in range(MAX_REDRAW_ROUNDS):
        dup = repeated()
        if not dup.any():
            break
        product[dup] = _sample_products(rng, catalogue, item_cat[dup])
    return ~repeated()


def _order_lines(
    rng: np.random.Generator, customers: Customers, catalogue: Catalogue, cust: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """1-4 distinct products per order (``cust`` = each order's customer).

    Returns each line's order index and product, grouped by order.
    """
    n_orders = len(cust)
    n_lines = 1 + _categorical(rng, np.array(ITEMS_PER_ORDER_P), n_orders)
    starts = _gaps_to_starts(n_lines)
    item_order = np.repeat(np.arange(n_orders, dtype=np.int64), n_lines)
    pos = _position_in_group(item_order, starts)
    item_cat = _sample_categories(rng, customers, cust[item_order])
    product = _sample_products(rng, catalogue, item_cat)
    keep = _dedupe_lines(rng, catalogue, item_order, item_cat, product, pos)
    return item_order[keep], product[keep]


def _line_prices_cents(
    rng: np.random.Generator, catalogue: Catalogue, clock: Clock, product: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Unit prices at time ``t``: list price, yearly drift, peak-sale and promo discounts."""
    season_boost = clock.season(t) > PEAK_SALE_SEASON
    u = rng.random(len(product))
    discount = np.where(
        season_boost & (u < PEAK_SALE_P),
        PEAK_SALE_DISCOUNT,
        np.where(u < PROMO_P, PROMO_DISCOUNT, 0.0),
    )
    drift = 1.0 + PRICE_DRIFT_PER_YEAR * t / DAYS_PER_YEAR
    price_cents = np.round(catalogue.price_cents[product] * drift * (1.0 - discount))
    return price_cents.astype(np.int64)


def _order_status(rng: np.random.Generator, customers: Customers, cust: np.ndarray) -> np.ndarray:
    """Cancelled, returned or completed; both rise with the customer's dropout and returns."""
    u = rng.random(len(cust))
    cancel_p = CANCEL_BASE + CANCEL_DROPOUT_EFFECT * customers.dropout[cust]
    return np.where(
        u < cancel_p,
        CANCELLED,
        np.where(u < cancel_p + customers.return_propensity[cust], RETURNED, COMPLETED),
    ).astype(np.int8)


def make_orders(
    rng: np.random.Generator,
    customers: Customers,
    catalogue: Catalogue,
    purchases: Purchases,
    clock: Clock,
) -> Orders:
    """Turn purchases into time-ordered orders with 1-4 distinct items and a status."""
    order = np.lexsort((purchases.customer, purchases.t))
    cust = purchases.customer[order]
    t = purchases.t[order]
    item_order, product = _order_lines(rng, customers, catalogue, cust)
    quantity = 1 + _categorical(rng, np.array(QUANTITY_P), len(product))
    price_cents = _line_prices_cents(rng, catalogue, clock, product, t[item_order])
    total_cents = np.bincount(item_order, weights=quantity * price_cents, minlength=len(t))
    status = _order_status(rng, customers, cust)
    campaign = None
    if purchases.campaign is not None:
        campaign = purchases.campaign[order]
        status[campaign] = COMPLETED
    return Orders(
        customer=cust,
        t=t,
        status=status,
        total_cents=np.round(total_cents).astype(np.int64),
        item_order=item_order,
        item_product=product,
        item_quantity=quantity.astype(np.int64),
        item_price_cents=price_cents,
        campaign=campaign,
    )


# --- events ---------------------------------------------------------------------------------


@dataclass
class _EventParts:
    """Columns of a batch of events before string conversion."""

    customer: np.ndarray
    t: np.ndarray
    kind: np.ndarray
    product: np.ndarray  # -1 = null
    query: np.ndarray  # -1 = null


def _session_lengths(rng: np.random.Generator, customers: Customers, orders: Orders) -> np.ndarray:
    """Length in days of the shopping session before each order (never before signup)."""
    avail = orders.t - customers.signup_t[orders.customer]
    return np.minimum(
        SESSION_MIN_DAYS + rng.exponential(SESSION_MEAN_EXTRA_DAYS, len(orders.t)),
        SESSION_MAX_TENURE_SHARE * np.maximum(avail, 0.0),
    )


def _during_session(
    rng: np.random.Generator,
    orders: Orders,
    session: np.ndarray,
    order_index: np.ndarray,
    at: tuple[float, float],
) -> np.ndarray:
    """Times inside the session of each order in ``order_index``, ``at`` of it before the order."""
    return orders.t[order_index] - session[order_index] * rng.uniform(*at, len(order_index))


def _funnel_events(
    rng: np.random.Generator,
    customers: Customers,
    catalogue: Catalogue,
    orders: Orders,
) -> _EventParts:
    """Search -> view -> add-to-cart sessions in the hours before each order."""
    n_orders = len(orders.t)
    session = _session_lengths(rng, customers, orders)
    # searches: one per order with some probability, for the first item's category
    first_line = np.searchsorted(orders.item_order, np.arange(n_orders))
    s_ord = np.flatnonzero(rng.random(n_orders) < FUNNEL_SEARCH_P)
    s_cat = catalogue.category[orders.item_product[first_line[s_ord]]]
    s_t = _during_session(rng, orders, session, s_ord, FUNNEL_SEARCH_AT)
    # views and add-to-carts of each ordered product
    n_items = len(orders.item_order)
    v_line = np.flatnonzero(rng.random(n_items) < FUNNEL_VIEW_P)
    a_line = np.flatnonzero(rng.random(n_items) < FUNNEL_CART_P)
    v_ord, a_ord = orders.item_order[v_line], orders.item_order[a_line]
    v_t = _during_session(rng, orders, session, v_ord, FUNNEL_VIEW_AT)
    a_t = _during_session(rng, orders, session, a_ord, FUNNEL_CART_AT)
    s_query = _sample_queries(rng, catalogue, s_cat)
    return _EventParts(
        customer=np.concatenate(
            [orders.customer[s_ord], orders.customer[v_ord], orders.customer[a_ord]]
        ),
        t=np.concatenate([s_t, v_t, a_t]),
        kind=np.concatenate(
            [
                np.full(len(s_ord), SEARCH, np.int8),
                np.full(len(v_line), VIEW, np.int8),
                np.full(len(a_line), ADD_TO_CART, np.int8),
            ]
        ),
        product=np.concatenate(
            [
                np.full(len(s_ord), -1, np.int64),
                orders.item_product[v_line],
                orders.item_product[a_line],
            ]
        ),
        query=np.concatenate([s_query, np.full(len(v_line) + len(a_line), -1, np.int64)]),
    )


def _background_events(
    rng: np.random.Generator,
    customers: Customers,
    catalogue: Catalogue,
    purchases: Purchases,
    clock: Clock,
) -> _EventParts:
    """Browsing at a rate tied to the purchase rate; it fades out after dropout."""
    horizon = clock.horizon
    rate = BACKGROUND_RATE_PER_PURCHASE * customers.rate + BACKGROUND_BASE_RATE
    dropped = ~np.isnan(purchases.dropped_at)
    alive_until = np.where(dropped, purchases.dropped_at, horizon)
    active_len = np.maximum(alive_until - customers.signup_t, 0.0)
    n_active = rng.poisson(rate * active_len)
    decay_len = np.where(dropped, horizon - alive_until, 0.0)
    decay_mass = BACKGROUND_DECAY_DAYS * (1.0 - np.exp(-decay_len / BACKGROUND_DECAY_DAYS))
    n_decay = rng.poisson(rate * decay_mass)
    who_a = np.repeat(np.arange(len(rate)), n_active)
    t_a = customers.signup_t[who_a] + rng.random(len(who_a)) * active_len[who_a]
    who_d = np.repeat(np.arange(len(rate)), n_decay)
    frac = rng.random(len(who_d)) * (1.0 - np.exp(-decay_len[who_d] / BACKGROUND_DECAY_DAYS))
    t_d = alive_until[who_d] - BACKGROUND_DECAY_DAYS * np.log1p(-frac)
    who = np.concatenate([who_a, who_d])
    t = np.minimum(np.concatenate([t_a, t_d]), np.nextafter(horizon, 0.0))
    kind = _categorical(rng, np.array(BACKGROUND_TYPE_P), len(who)).astype(np.int8)
    cat = _sample_categories(rng, customers, who)
    product = np.where(kind == SEARCH, -1, _sample_products(rng, catalogue, cat))
    query = np.where(kind == SEARCH, _sample_queries(rng, catalogue, cat), -1)
    return _EventParts(who, t, kind, product, query)


def make_events(
    rng: np.random.Generator,
    customers: Customers,
    catalogue: Catalogue,
    purchases: Purchases,
    orders: Orders,
    clock: Clock,
    customer_ids: pa.Array,
    product_ids: pa.Array,
) -> pa.Table:
    """Funnel and background events as a time-ordered table."""
    parts = [
        _funnel_events(rng, customers, catalogue, orders),
        _background_events(rng, customers, catalogue, purchases, clock),
    ]
    t = np.concatenate([p.t for p in parts])
    order = np.argsort(t, kind="stable")
    t = t[order]
    customer = np.concatenate([p.customer for p in parts])[order]
    kind = np.concatenate([p.kind for p in parts])[order]
    product = np.concatenate([p.product for p in parts])[order]
    query = np.concatenate([p.query for p in parts])[order]
    del parts
    return pa.Table.from_arrays(
        [
            customer_ids.take(pa.array(customer)),
            timestamps(clock.to_us(t)),
            pa.array(EVENT_TYPES, type=pa.string()).take(pa.array(kind)),
            _take_or_null(product_ids, product),
            _take_or_null(catalogue.queries, query),
        ],
        schema=SCHEMAS["events"],
    )


# --- reviews --------------------------------------------------------------------------------


def _flatten(groups: tuple[tuple[str, ...], ...]) -> tuple[pa.Array, np.ndarray]:
    """Concatenate per-sentiment string lists; returns the array and group offsets."""
    flat = [s for g in groups for s in g]
    return pa.array(flat, type=pa.string()), _gaps_to_starts(np.array([len(g) for g in groups]))


def _pick(rng: np.random.Generator, offsets: np.ndarray, group: np.ndarray) -> np.ndarray:
    """A uniformly random member index of each row's group."""
    lo, hi = offsets[group], offsets[group + 1]
    return lo + (rng.random(len(group)) * (hi - lo)).astype(np.int64)


def review_texts(
    rng: np.random.Generator, sentiment: np.ndarray, product_names: pa.Array
) -> pa.Array:
    """Template review texts (opener, product sentence, detail, closer) by sentiment."""
    openers, o_off = _flatten(REVIEW_OPENERS)
    prefixes, p_off = _flatten(tuple(tuple(p for p, _ in g) for g in REVIEW_PRODUCT_SENTENCES))
    suffixes = pa.array([s for g in REVIEW_PRODUCT_SENTENCES for _, s in g], type=pa.string())
    details, d_off = _flatten(REVIEW_DETAILS)
    closers, c_off = _flatten(REVIEW_CLOSERS)
    sentence = pa.array(_pick(rng, p_off, sentiment))
    return pc.binary_join_element_wise(
        openers.take(pa.array(_pick(rng, o_off, sentiment))),
        " ",
        prefixes.take(sentence),
        pc.utf8_lower(product_names),
        suffixes.take(sentence),
        details.take(pa.array(_pick(rng, d_off, sentiment))),
        closers.take(pa.array(_pick(rng, c_off, sentiment))),
        "",
    )


def ratings(
    rng: np.random.Generator, dropout: np.ndarray, leniency: np.ndarray, returned: np.ndarray
) -> np.ndarray:
    """1-5 star ratings from a latent satisfaction that falls with dropout and returns."""
    z = (
        RATING_BASE
        - RATING_DROPOUT_EFFECT * dropout
        - RATING_RETURN_EFFECT * returned
        + leniency
        + rng.normal(0.0, RATING_NOISE_SD, len(dropout))
    )
    return 1 + np.searchsorted(np.array(RATING_CUTS), z, side="right").astype(np.int64)


def _reviewed_orders(
    rng: np.random.Generator, catalogue: Catalogue, orders: Orders, horizon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which orders get a review, and when: ``(order, time, product, customer)``, time-ordered.

    Each chosen order reviews its first item, a few days later; reviews after ``horizon`` are
    dropped, and only the first review of each (customer, product) pair is kept.
    """
    review_p = np.array([REVIEW_P[COMPLETED], REVIEW_P[RETURNED], REVIEW_P[CANCELLED]])
    chosen = np.flatnonzero(rng.random(len(orders.t)) < review_p[orders.status])
    delay = REVIEW_MIN_DELAY_DAYS + rng.exponential(REVIEW_MEAN_EXTRA_DELAY_DAYS, len(chosen))
    t = orders.t[chosen] + delay
    first_line = np.searchsorted(orders.item_order, chosen)
    product = orders.item_product[first_line]
    cust = orders.customer[chosen]
    inside = t < horizon
    chosen, t, product, cust = chosen[inside], t[inside], product[inside], cust[inside]
    _, first = np.unique(cust * len(catalogue.category) + product, return_index=True)
    first.sort()
    chosen, t, product, cust = chosen[first], t[first], product[first], cust[first]
    order = np.argsort(t, kind="stable")
    return chosen[order], t[order], product[order], cust[order]


def make_reviews(
    rng: np.random.Generator,
    customers: Customers,
    catalogue: Catalogue,
    orders: Orders,
    clock: Clock,
    customer_ids: pa.Array,
    product_ids: pa.Array,
) -> pa.Table:
    """Reviews of the first item of some orders, one per (customer, product), time-ordered."""
    chosen, t, product, cust = _reviewed_orders(rng, catalogue, orders, clock.horizon)
    returned = (orders.status[chosen] == RETURNED).astype(np.float64)
    rating = ratings(rng, customers.dropout[cust], customers.leniency[cust], returned)
    sentiment = np.where(
        rating <= NEGATIVE_MAX_RATING,
        NEGATIVE,
        np.where(rating == NEUTRAL_RATING, NEUTRAL, POSITIVE),
    )
    names = pa.array(catalogue.names, type=pa.string()).take(pa.array(product))
    return pa.Table.from_arrays(
        [
            customer_ids.take(pa.array(cust)),
            product_ids.take(pa.array(product)),
            timestamps(clock.to_us(t)),
            pa.array(rating, type=pa.int64()),
            review_texts(rng, sentiment, names),
        ],
        schema=SCHEMAS["reviews"],
    )


# --- assembly -------------------------------------------------------------------------------


def _id_space(n_customers: int, n_orders: int) -> IdSpace:
    """Id formats wide enough for the clean rows and the fresh ids of dirty rows."""
    return IdSpace(
        n_customers=n_customers,
        n_orders=n_orders,
        customer_width=_id_width(
            CUSTOMER_ID_DIGITS, ID_HEADROOM_FACTOR * n_customers + ID_HEADROOM_EXTRA
        ),
        order_width=_id_width(ORDER_ID_DIGITS, ID_HEADROOM_FACTOR * n_orders + ID_HEADROOM_EXTRA),
    )


def _product_ids(catalogue: Catalogue) -> pa.Array:
    """``p0000``-style ids of the catalogue's products."""
    n_prod = len(catalogue.category)
    return format_ids("p", np.arange(n_prod), _id_width(PRODUCT_ID_DIGITS, n_prod))


def _customers_table(customers: Customers, customer_ids: pa.Array, clock: Clock) -> pa.Table:
    """The clean customers table."""
    return pa.Table.from_arrays(
        [
            customer_ids,
            timestamps(clock.to_us(customers.signup_t)),
            pa.array([c[NAME] for c in COUNTRIES]).take(pa.array(customers.country)),
            pa.array([c[NAME] for c in CHANNELS]).take(pa.array(customers.channel)),
        ],
        schema=SCHEMAS["customers"],
    )


def _products_table(catalogue: Catalogue, product_ids: pa.Array) -> pa.Table:
    """The products table (never dirtied)."""
    return pa.Table.from_arrays(
        [
            product_ids,
            pa.array(catalogue.names, type=pa.string()),
            pa.array([c.name for c in CATEGORIES]).take(pa.array(catalogue.category)),
        ],
        schema=SCHEMAS["products"],
    )


def _orders_tables(
    orders: Orders, ids: IdSpace, customer_ids: pa.Array, product_ids: pa.Array, clock: Clock
) -> tuple[pa.Table, pa.Table]:
    """The clean orders and order_items tables."""
    order_ids = ids.order_ids(np.arange(len(orders.t)))
    orders_table = pa.Table.from_arrays(
        [
            order_ids,
            customer_ids.take(pa.array(orders.customer)),
            timestamps(clock.to_us(orders.t)),
            pa.array(orders.total_cents / CENTS_PER_UNIT, type=pa.float64()),
            pa.array(STATUSES, type=pa.string()).take(pa.array(orders.status)),
        ],
        schema=SCHEMAS["orders"],
    )
    items_table = pa.Table.from_arrays(
        [
            order_ids.take(pa.array(orders.item_order)),
            product_ids.take(pa.array(orders.item_product)),
            pa.array(orders.item_quantity, type=pa.int64()),
            pa.array(orders.item_price_cents / CENTS_PER_UNIT, type=pa.float64()),
        ],
        schema=SCHEMAS["order_items"],
    )
    return orders_table, items_table


def _latent_table(
    customers: Customers, purchases: Purchases, customer_ids: pa.Array, clock: Clock
) -> pa.Table:
    """Ground-truth latent parameters per customer (not part of the raw contract)."""
    dropped = ~np.isnan(purchases.dropped_at)
    dropped_us = clock.to_us(np.where(dropped, purchases.dropped_at, 0.0))
    return pa.Table.from_arrays(
        [
            customer_ids,
            pa.array(customers.rate),
            pa.array(customers.dropout),
            pa.array(customers.return_propensity),
            pa.array(customers.leniency),
            pa.array(dropped_us, type=TS, mask=~dropped),
            pa.array(~dropped),
        ],
        schema=LATENT_SCHEMA,
    )


def _validate_args(n_customers: int, dirty_fraction: float) -> None:
    """Reject arguments the generator cannot honour."""
    if n_customers < 1:
        raise ValueError(f"n_customers must be >= 1, got {n_customers}")
    if not 0.0 <= dirty_fraction < MAX_DIRTY_FRACTION:
        raise ValueError(
            f"dirty_fraction must be in [0, {MAX_DIRTY_FRACTION}), got {dirty_fraction}"
        )


#: Independent random streams, one per stage (adding a stage must not shift the others).
RNG_STREAMS: tuple[str, ...] = (
    "customers",
    "catalogue",
    "purchases",
    "orders",
    "events",
    "reviews",
    "dirty",
    "campaign",  # appended: the streams above stay what they were
    "planted",
)
#: Stages of :func:`generate_shop_with_latent`, one step of its progress bar each.
N_STAGES = 8


def generate_shop_with_latent(
    n_customers: int,
    seed: int = 0,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
    dirty_fraction: float = DEFAULT_DIRTY_FRACTION,
    show_progress: bool = True,
    campaign: CampaignEffect | None = None,
    planted_signal: float = 0.0,
    planted_from: str | None = None,
) -> tuple[dict[str, pa.Table], pa.Table]:
    """Generate the shop tables plus a ground-truth table of latent customer parameters.

    The latent table has one row per (clean) customer: ``customer_id``, ``purchase_rate``
    (purchases per day before seasonality), ``dropout_prob`` (per purchase),
    ``return_propensity``, ``rating_leniency``, ``dropped_out_at`` (null if still alive at
    ``end``) and ``is_alive_at_end``. ``end`` is exclusive: no clean row is at or after it.
    With a ``campaign`` the tables get a one-row ``campaigns`` table and the latent table the
    columns of :func:`campaign_truth`. With ``planted_signal > 0`` (strength of the planted
    signal, :mod:`shopdata.planted`; its effect starts on ``planted_from``, default the middle
    day) the latent table gets ``marker_affinity`` and ``planted_dropout_at`` and
    ``dropped_out_at`` / ``is_alive_at_end`` include the planted dropouts.
    """
    _validate_args(n_customers, dirty_fraction)
    clock = make_clock(start, end)
    from_t = planted_from_day(planted_signal, planted_from, start, end)
    rng = _rngs(seed, RNG_STREAMS)
    began = time.perf_counter()
    bar = tqdm(total=N_STAGES, desc="synthetic shop", unit="stage", disable=not show_progress)
    with bar:
        with _stage(bar, "customers"):
            customers = make_customers(rng["customers"], n_customers, clock.horizon)
        with _stage(bar, "catalogue"):
            catalogue = make_catalogue(rng["catalogue"], n_customers)
            planted: Planting | None = None
            if planted_signal > 0.0:
                planted, twins = plant(
                    rng["planted"], planted_signal, from_t, n_customers, catalogue.names
                )
                catalogue = with_twins(catalogue, twins)
            product_ids = _product_ids(catalogue)
        with _stage(bar, "purchases"):
            purchases = simulate_purchases(rng["purchases"], customers, clock, show_progress)
            draws = None
            if campaign is not None:
                draws = draw_campaign(
                    rng["campaign"],
                    campaign,
                    purchases,
                    _id_space(n_customers, 0).customer_ids(np.arange(n_customers)),
                    clock,
                )
                purchases = add_campaign_purchases(rng["campaign"], draws, purchases)
            if planted is not None:
                planted.draw_dropouts(
                    rng["planted"],
                    purchases.customer,
                    purchases.t,
                    purchases.dropped_at,
                    clock.horizon,
                )
        with _stage(bar, "orders"):
            orders = make_orders(rng["orders"], customers, catalogue, purchases, clock)
            kept = orders
            if planted is not None:  # events and reviews come from all orders, then filtered
                orders.item_product = planted.relabel(
                    orders.customer[orders.item_order], orders.item_product
                )
                kept = keep_orders(orders, planted.keep(orders.customer, orders.t))
            ids = _id_space(n_customers, len(kept.t))
            customer_ids = ids.customer_ids(np.arange(n_customers))
            orders_table, items_table = _orders_tables(kept, ids, customer_ids, product_ids, clock)
        with _stage(bar, "events"):
            events = make_events(
                rng["events"],
                customers,
                catalogue,
                purchases,
                orders,
                clock,
                customer_ids,
                product_ids,
            )
            if planted is not None:
                events = planted.relabel_events(events, customer_ids, product_ids)
                events = planted.keep_table(events, "event_at", customer_ids, clock.start_us)
        with _stage(bar, "reviews"):
            reviews = make_reviews(
                rng["reviews"], customers, catalogue, orders, clock, customer_ids, product_ids
            )
            if planted is not None:
                reviews = planted.keep_table(reviews, "reviewed_at", customer_ids, clock.start_us)
        with _stage(bar, "tables"):
            clean = {
                "customers": _customers_table(customers, customer_ids, clock),
                "orders": orders_table,
                "order_items": items_table,
                "products": _products_table(catalogue, product_ids),
                "events": events,
                "reviews": reviews,
            }
            if planted is not None:
                purchases.dropped_at = planted.dropped_at(purchases.dropped_at)
            latent = _latent_table(customers, purchases, customer_ids, clock)
            if planted is not None:
                dropout_t = planted.dropped_at(np.zeros(n_customers))
                for field, column in zip(
                    PLANTED_TRUTH_SCHEMA, planted.truth(clock.to_us(dropout_t)), strict=True
                ):
                    latent = latent.append_column(field, column)
            if draws is not None:
                truth = campaign_truth(draws, kept, customer_ids)
                for name in truth.column_names[1:]:
                    latent = latent.append_column(name, truth.column(name))
        with _stage(bar, "dirty rows"):
            tables = add_dirty_rows(rng["dirty"], clean, dirty_fraction, ids)
    tables = {name: tables[name].combine_chunks() for name in TABLE_NAMES}
    if campaign is not None:
        tables["campaigns"] = campaign.campaign().to_table()
    logger.info(
        "generated synthetic shop (n=%d, seed=%d) in %.1fs: %s",
        n_customers,
        seed,
        time.perf_counter() - began,
        ", ".join(f"{name}={t.num_rows}" for name, t in tables.items()),
    )
    return tables, latent


def generate_shop(
    n_customers: int,
    seed: int = 0,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
    dirty_fraction: float = DEFAULT_DIRTY_FRACTION,
    show_progress: bool = True,
    campaign: CampaignEffect | None = None,
    planted_signal: float = 0.0,
    planted_from: str | None = None,
) -> dict[str, pa.Table]:
    """Generate a synthetic shop: ``{customers, orders, order_items, products, events, reviews}``.

    Deterministic in all arguments (``show_progress`` aside). Covers ``[start, end)``;
    ``dirty_fraction`` of each table's rows (at least one per kind, see :data:`DIRTY_KINDS`)
    are deliberately broken; ``0`` gives perfectly clean data. ``campaign``: see
    :class:`CampaignEffect`. ``planted_signal`` / ``planted_from``: see :mod:`shopdata.planted`.
    """
    tables, _ = generate_shop_with_latent(
        n_customers,
        seed,
        start,
        end,
        dirty_fraction,
        show_progress,
        campaign,
        planted_signal,
        planted_from,
    )
    return tables


# --- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m shopdata synthetic``."""
    p = argparse.ArgumentParser(
        prog="python -m shopdata synthetic",
        description="Generate a seeded synthetic e-commerce shop as parquet files.",
    )
    p.add_argument("--customers", type=int, required=True, help="number of customers")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--dirty-fraction",
        type=float,
        default=DEFAULT_DIRTY_FRACTION,
        help=f"fraction of deliberately broken rows per table (default {DEFAULT_DIRTY_FRACTION})",
    )
    p.add_argument("--start", default=DEFAULT_START, help="first day, YYYY-MM-DD")
    p.add_argument("--end", default=DEFAULT_END, help="end day (exclusive), YYYY-MM-DD")
    p.add_argument(
        "--latent",
        action="store_true",
        help="also write ground-truth latent parameters to <out>/_latent/customer_latent.parquet",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    campaign = p.add_argument_group(
        "campaign with a known effect (off unless --campaign-id is given)",
        "Treatment customers (hash of campaign and customer id, as in the warehouse) with a "
        "purchase before --campaign-start make one extra completed purchase in the "
        "measurement window with probability --campaign-extra-purchase-p. The campaign row is "
        "written as <out>/campaigns.parquet, which the warehouse reads instead of the seed.",
    )
    campaign.add_argument("--campaign-id", help="campaign id, e.g. spring_push")
    campaign.add_argument("--campaign-start", help="start day YYYY-MM-DD (assignment day)")
    campaign.add_argument(
        "--campaign-holdout-share", type=float, default=0.5, help="holdout share (default 0.5)"
    )
    campaign.add_argument(
        "--campaign-days", type=int, default=90, help="measurement window in days (default 90)"
    )
    campaign.add_argument(
        "--campaign-extra-purchase-p",
        type=float,
        default=0.3,
        help="probability of the extra purchase per treatment customer (default 0.3)",
    )
    planted = p.add_argument_group(
        "planted signal (off unless --planted-signal > 0)",
        "Customers with a latent affinity buy marker twins of products, e.g. 'Hardcover "
        "Cookbook (Refurbished)' (same price and category), and from --planted-from on have "
        "an extra dropout hazard that rises with it: churn that only product names reveal "
        "(see shopdata.planted).",
    )
    planted.add_argument(
        "--planted-signal",
        type=float,
        default=0.0,
        help="strength: extra dropout hazard per day is X * affinity^2 / 30 (default 0: off)",
    )
    planted.add_argument(
        "--planted-from",
        help="first day YYYY-MM-DD of the planted churn (default: the period's middle day)",
    )
    return p


def _campaign_effect(p: argparse.ArgumentParser, args: argparse.Namespace) -> CampaignEffect | None:
    """The campaign of the command line, or None; a bad value is a usage error."""
    if args.campaign_id is None:
        return None
    if args.campaign_start is None:
        p.error("--campaign-id needs --campaign-start")
    try:
        return CampaignEffect(
            campaign_id=args.campaign_id,
            start=args.campaign_start,
            holdout_share=args.campaign_holdout_share,
            measurement_days=args.campaign_days,
            extra_purchase_probability=args.campaign_extra_purchase_p,
        )
    except ValueError as error:
        p.error(str(error))


def main_synthetic(argv: list[str] | None = None) -> int:
    """CLI: ``--customers N --seed S --out DIR [--dirty-fraction F] [--start D] [--end D]``.

    Also ``--latent``, the campaign options and ``--planted-signal X [--planted-from D]``.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    campaign = _campaign_effect(parser, args)
    try:
        planted_from_day(args.planted_signal, args.planted_from, args.start, args.end)
    except ValueError as error:
        parser.error(str(error))
    began = time.perf_counter()
    tables, latent = generate_shop_with_latent(
        args.customers,
        seed=args.seed,
        start=args.start,
        end=args.end,
        dirty_fraction=args.dirty_fraction,
        show_progress=not args.no_progress,
        campaign=campaign,
        planted_signal=args.planted_signal,
        planted_from=args.planted_from,
    )
    write_shop(tables, args.out)
    if args.latent:
        write_shop({"customer_latent": latent}, Path(args.out) / "_latent")
    counts = ", ".join(f"{name}={t.num_rows}" for name, t in tables.items())
    print(f"wrote {args.out}: {counts} ({time.perf_counter() - began:.1f}s)")
    return 0
