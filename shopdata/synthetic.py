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
  (nulls, duplicates, impossible values, future dates, dangling references, PII, ...).

Everything is vectorised numpy; the only loop in the purchase simulation runs over purchase
*candidates* with a shrinking active set. The same arguments always give identical tables.

Public API: :func:`generate_shop`, :func:`generate_shop_with_latent`, :func:`write_shop`,
:func:`main_synthetic` (the ``python -m shopdata synthetic`` command).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

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

US_PER_DAY = 86_400_000_000
DAYS_PER_YEAR = 365.2425
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

SEASON_YEARLY_AMP = 0.12  # cosine wave, high in winter, low in summer
SEASON_PEAK_AMP = 0.9  # Black Friday / December bump
SEASON_PEAK_DOY = 334.0  # ~ 1 December (0-based day of year)
SEASON_PEAK_SD = 13.0
SEASON_MAX = 1.0 + SEASON_YEARLY_AMP + SEASON_PEAK_AMP

BACKGROUND_RATE_PER_PURCHASE = 0.7  # background browsing events per unit of purchase rate
BACKGROUND_BASE_RATE = 0.002  # events per day regardless of the purchase rate
BACKGROUND_DECAY_DAYS = 30.0  # browsing fades with this time constant after dropout
BACKGROUND_TYPE_P = (0.72, 0.18, 0.10)  # view, search, add_to_cart

ITEMS_PER_ORDER_P = (0.55, 0.25, 0.13, 0.07)  # 1..4 lines
QUANTITY_P = (0.78, 0.15, 0.04, 0.02, 0.01)  # 1..5 units
CANCEL_BASE = 0.02
REVIEW_P = {COMPLETED: 0.18, RETURNED: 0.35, CANCELLED: 0.0}
PRICE_DRIFT_PER_YEAR = 0.03

#: (code, share, purchase-rate multiplier, dropout multiplier)
COUNTRIES: tuple[tuple[str, float, float, float], ...] = (
    ("US", 0.34, 1.00, 1.00),
    ("GB", 0.12, 1.05, 0.95),
    ("DE", 0.11, 1.10, 0.90),
    ("FR", 0.08, 0.95, 1.05),
    ("CA", 0.07, 1.00, 1.00),
    ("AU", 0.05, 0.95, 1.05),
    ("NL", 0.05, 1.10, 0.90),
    ("ES", 0.04, 0.90, 1.10),
    ("IT", 0.04, 0.90, 1.10),
    ("SE", 0.03, 1.10, 0.90),
    ("PL", 0.03, 0.90, 1.05),
    ("BR", 0.02, 0.85, 1.15),
    ("JP", 0.02, 1.00, 0.95),
)

#: (channel, share, purchase-rate multiplier, dropout multiplier)
CHANNELS: tuple[tuple[str, float, float, float], ...] = (
    ("organic", 0.35, 1.00, 1.00),
    ("paid_search", 0.25, 0.95, 1.15),
    ("social", 0.18, 0.80, 1.30),
    ("email", 0.12, 1.20, 0.85),
    ("referral", 0.10, 1.15, 0.75),
)


@dataclass(frozen=True)
class Category:
    """A product category: price level, popularity and the words used for names and queries."""

    name: str
    median_price: float
    weight: float
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "books",
        15.0,
        1.2,
        ("Illustrated", "Hardcover", "Paperback", "Collected", "Annotated", "Classic",
         "Pocket", "Complete", "Modern", "Essential", "Practical", "Vintage"),
        ("Cookbook", "Mystery Novel", "Travel Guide", "Poetry Collection", "Biography",
         "Science Fiction Novel", "Fantasy Saga", "History Book", "Field Guide", "Atlas",
         "Children's Storybook", "Graphic Novel", "Short Story Anthology", "Self-Help Book"),
    ),
    Category(
        "electronics",
        70.0,
        1.1,
        ("Wireless", "Portable", "Smart", "Bluetooth", "Compact", "Noise-Cancelling",
         "Rechargeable", "Ultra-Slim", "Waterproof", "High-Speed", "Ergonomic", "Dual-Band"),
        ("Headphones", "Speaker", "Power Bank", "Phone Charger", "Keyboard", "Mouse", "Webcam",
         "Earbuds", "Smartwatch", "Router", "Monitor", "Action Camera", "E-Reader", "Tablet"),
    ),
    Category(
        "home",
        35.0,
        1.0,
        ("Ceramic", "Bamboo", "Minimalist", "Cozy", "Scented", "Stainless", "Handwoven",
         "Rustic", "Velvet", "Modular", "Linen", "Glass"),
        ("Desk Lamp", "Throw Blanket", "Candle", "Storage Basket", "Wall Clock", "Coffee Mug",
         "Cutting Board", "Picture Frame", "Cushion", "Vase", "Bookshelf", "Kettle",
         "Bath Towel", "Doormat"),
    ),
    Category(
        "beauty",
        18.0,
        0.9,
        ("Hydrating", "Organic", "Vegan", "Gentle", "Brightening", "Nourishing", "Matte",
         "Lightweight", "Soothing", "Fragrance-Free", "Revitalizing", "Mineral"),
        ("Face Cream", "Lip Balm", "Shampoo", "Conditioner", "Serum", "Sunscreen",
         "Body Lotion", "Face Mask", "Cleanser", "Hand Cream", "Eye Palette", "Hair Oil",
         "Perfume", "Nail Polish"),
    ),
    Category(
        "toys",
        22.0,
        0.8,
        ("Wooden", "Plush", "Magnetic", "Educational", "Remote-Control", "Glow-in-the-Dark",
         "Giant", "Mini", "Musical", "Stackable", "Colorful", "Inflatable"),
        ("Building Blocks", "Teddy Bear", "Puzzle", "Race Car", "Dollhouse", "Board Game",
         "Train Set", "Kite", "Robot Kit", "Card Game", "Play Tent", "Dinosaur Figure",
         "Yo-Yo", "Marble Run"),
    ),
    Category(
        "sports",
        40.0,
        0.8,
        ("Lightweight", "Adjustable", "Foldable", "Breathable", "Pro", "Insulated", "Non-Slip",
         "Heavy-Duty", "Carbon", "Quick-Dry", "Reflective", "Padded"),
        ("Yoga Mat", "Dumbbell Set", "Running Shoes", "Water Bottle", "Tennis Racket",
         "Bike Helmet", "Resistance Bands", "Jump Rope", "Gym Bag", "Football",
         "Hiking Backpack", "Swim Goggles", "Cycling Gloves", "Foam Roller"),
    ),
    Category(
        "grocery",
        7.0,
        1.0,
        ("Organic", "Roasted", "Spicy", "Gluten-Free", "Smoked", "Wildflower", "Premium",
         "Whole-Grain", "Cold-Pressed", "Sea-Salt", "Artisan", "Fair-Trade"),
        ("Coffee Beans", "Green Tea", "Olive Oil", "Honey", "Granola", "Chocolate Bar",
         "Pasta", "Peanut Butter", "Almonds", "Hot Sauce", "Rice", "Oat Milk", "Crackers",
         "Maple Syrup"),
    ),
    Category(
        "fashion",
        35.0,
        1.0,
        ("Slim-Fit", "Oversized", "Cotton", "Wool", "Denim", "Leather", "Striped", "Classic",
         "Waterproof", "Knitted", "Linen", "Casual"),
        ("T-Shirt", "Hoodie", "Jeans", "Sneakers", "Scarf", "Jacket", "Dress", "Belt",
         "Beanie", "Socks", "Sweater", "Raincoat", "Handbag", "Sunglasses"),
    ),
    Category(
        "garden",
        28.0,
        0.6,
        ("Solar", "Galvanized", "Expandable", "Ceramic", "Self-Watering", "Cordless",
         "Weatherproof", "Recycled", "Terracotta", "Folding", "Heavy-Duty", "Cedar"),
        ("Garden Hose", "Planter", "Pruning Shears", "Watering Can", "Bird Feeder",
         "Lawn Sprinkler", "Garden Gloves", "Compost Bin", "Raised Bed", "Lantern", "Seed Kit",
         "Rake", "Hammock", "Trellis"),
    ),
    Category(
        "music",
        20.0,
        0.6,
        ("Acoustic", "Vintage", "Deluxe", "Remastered", "Live", "Electric", "Beginner",
         "Limited-Edition", "Studio", "Portable", "Classic", "Digital"),
        ("Vinyl Record", "Guitar Strings", "Ukulele", "Drum Sticks", "Keyboard Stand",
         "Harmonica", "Metronome", "Guitar Capo", "Songbook", "Microphone", "Guitar Pedal",
         "Music Stand", "Concert Poster", "Tambourine"),
    ),
)  # fmt: skip

# --- review text templates (ASCII, no digits, no '@': clean text never looks like PII) -------
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2

REVIEW_OPENERS: tuple[tuple[str, ...], ...] = (
    (
        "Really disappointed with this purchase.",
        "Not what I expected at all.",
        "I wanted to like this, but no.",
        "Would not buy again.",
        "Honestly a waste of money.",
        "Very poor quality for the price.",
        "Save yourself the trouble.",
        "This was a letdown.",
    ),
    (
        "It is okay.",
        "Does the job, nothing more.",
        "Mixed feelings about this one.",
        "Average quality overall.",
        "Decent, but not amazing.",
        "Fine for the price.",
    ),
    (
        "Absolutely love it!",
        "Great purchase.",
        "Exceeded my expectations.",
        "Fantastic quality.",
        "So glad I ordered this.",
        "Really impressed.",
        "Exactly what I was looking for.",
        "Better than I hoped.",
    ),
)

#: (prefix, suffix) around the lower-cased product name.
REVIEW_PRODUCT_SENTENCES: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("I regret buying the ", "."),
        ("The quality of the ", " is terrible."),
        ("I returned the ", " after a few days."),
        ("Nothing about the ", " felt well made."),
        ("My order of the ", " arrived damaged."),
        ("I expected much more from the ", "."),
    ),
    (
        ("The quality of the ", " is acceptable."),
        ("I have mixed feelings about the ", "."),
        ("I ordered the ", " and it does the job."),
        ("Nothing special about the ", ", but nothing wrong either."),
        ("I have been using the ", " for a while now."),
    ),
    (
        ("I absolutely love the ", "."),
        ("I bought the ", " as a gift and it was a hit."),
        ("The quality of the ", " surprised me."),
        ("Could not be happier with the ", "."),
        ("I have been using the ", " every day since it arrived."),
        ("The ", " looks even better in person."),
    ),
)

#: Optional middle sentences; the empty string keeps some reviews short.
REVIEW_DETAILS: tuple[tuple[str, ...], ...] = (
    (
        "",
        " Delivery took forever and nobody answered my emails.",
        " Customer service was slow and unhelpful.",
        " The packaging was torn when it arrived.",
        " The instructions were confusing and incomplete.",
        " It smelled strange out of the box.",
        " Returning it was a hassle.",
        " The material feels flimsy.",
    ),
    (
        "",
        " Shipping took a bit longer than promised.",
        " The packaging could be better.",
        " It is a little smaller than I thought.",
        " The finish is average.",
        " The instructions were okay.",
    ),
    (
        "",
        " Shipping was fast and the packaging was neat.",
        " Great value for the money.",
        " Customer service answered my question within hours.",
        " Feels sturdy and well made.",
        " Exactly as described in the listing.",
        " Already ordered another one for my sister.",
        " Setup took only a few minutes.",
    ),
)

REVIEW_CLOSERS: tuple[tuple[str, ...], ...] = (
    (
        "",
        " I will be shopping elsewhere from now on.",
        " One star is generous.",
        " Not recommended.",
        " Cannot recommend this shop anymore.",
        " Do not bother.",
    ),
    (
        "",
        " Might order again if the price is right.",
        " Could be better, could be worse.",
        " Probably fine for most people.",
        " We will see how it holds up.",
    ),
    (
        "",
        " Highly recommended!",
        " Will definitely order again.",
        " Love this shop.",
        " Great experience overall.",
        " Thank you!",
    ),
)

# Rating model: z = BASE - DROPOUT_EFFECT * p - RETURN_EFFECT * returned + leniency + noise.
RATING_BASE = 1.75
RATING_DROPOUT_EFFECT = 3.5
RATING_RETURN_EFFECT = 1.4
RATING_LENIENCY_SD = 0.45
RATING_NOISE_SD = 0.75
RATING_CUTS = (-0.55, -0.05, 0.45, 1.05)  # z thresholds for 2, 3, 4, 5 stars

DIRTY_NON_ASCII = (
    " Tr\u00e8s bon produit, livraison rapide! \U0001f600",
    " Sehr gut, w\u00fcrde wieder kaufen. \U0001f44d",
    " \u3068\u3066\u3082\u826f\u3044\u5546\u54c1\u3067\u3059\u3002",
    " \u975e\u5e38\u597d\uff0c\u8d28\u91cf\u5f88\u68d2\uff01",
    " Muy buena calidad, env\u00edo r\u00e1pido \U0001f680",
    " \u00d3timo produto, cora\u00e7\u00e3o \u2764\ufe0f",
)
DIRTY_PII = (
    " Questions? Email me at anna.schmidt{k}@example.com or call +44 20 7946 {k:04d}.",
    " Contact john.doe{k}@mail.example.org, phone (555) 013-{k:04d}.",
    " Reach me on maria_{k}@example.net or +1 555 010 {k:04d} any time.",
)
FUTURE_START = np.datetime64("2099-01-01T00:00:00", "us")


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


def _format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded string ids such as ``c0000123`` for integer ``numbers``."""
    digits = pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width=width, padding="0"), "")


def _id_width(minimum: int, largest: int) -> int:
    """Digits needed for ids up to ``largest``, at least ``minimum``."""
    return max(minimum, len(str(max(largest, 0))))


def _timestamps(us: np.ndarray) -> pa.Array:
    """int64 microseconds since the epoch -> ``timestamp[us]`` array."""
    return pa.array(np.asarray(us, dtype=np.int64), type=TS)


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
    return np.sort(np.clip(x, 0.0, 1.0 - 1e-12) * horizon)


def make_customers(rng: np.random.Generator, n: int, horizon: float) -> Customers:
    """Draw signup times, attributes and latent BG/NBD parameters for ``n`` customers."""
    signup_t = _signup_times(rng, n, horizon)
    country = _categorical(rng, np.array([c[1] for c in COUNTRIES]), n).astype(np.int16)
    channel = _categorical(rng, np.array([c[1] for c in CHANNELS]), n).astype(np.int16)
    rate_mult = (
        np.array([c[2] for c in COUNTRIES])[country] * np.array([c[2] for c in CHANNELS])[channel]
    )
    drop_mult = (
        np.array([c[3] for c in COUNTRIES])[country] * np.array([c[3] for c in CHANNELS])[channel]
    )
    rate = np.clip(rng.gamma(RATE_SHAPE, RATE_SCALE, n) * rate_mult, *RATE_BOUNDS)
    dropout = np.clip(rng.beta(DROPOUT_A, DROPOUT_B, n) * drop_mult, *DROPOUT_BOUNDS)
    return_propensity = np.clip(rng.beta(1.2, 30.0, n) + 0.08 * dropout, 0.0, 0.6)
    leniency = rng.normal(0.0, RATING_LENIENCY_SD, n)
    weights = np.array([c.weight for c in CATEGORIES])
    prefs = rng.dirichlet(0.35 * len(CATEGORIES) * weights / weights.sum(), n)
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
        for k in (j, j + 5):
            phrases.append(clean(f"{category.adjectives[k % n_adj]} {noun}"))
        if j % 3 == 0:
            phrases.append(clean(f"cheap {noun}"))
        if j % 4 == 1:
            phrases.append(clean(f"best {noun}"))
    phrases.append(f"{category.name} gift ideas")
    phrases.append(f"{category.name} sale")
    return list(dict.fromkeys(phrases))


def n_products_for(n_customers: int) -> int:
    """Catalogue size: a few hundred products, growing mildly with the customer count."""
    return int(np.clip(round(100 * np.log10(max(n_customers, 10))), 200, 800))


def make_catalogue(rng: np.random.Generator, n_customers: int) -> Catalogue:
    """Products with unique "Adjective Noun" names, category prices and Zipf-ish popularity."""
    n_total = n_products_for(n_customers)
    weights = np.array([c.weight for c in CATEGORIES])
    per_cat = np.maximum(5, np.round(n_total * weights / weights.sum()).astype(np.int64))
    names: list[str] = []
    category: list[int] = []
    price_cents: list[np.ndarray] = []
    pop_key: list[np.ndarray] = []
    queries: list[str] = []
    query_counts: list[int] = []
    for c, (cat, k) in enumerate(zip(CATEGORIES, per_cat, strict=True)):
        n_adj, n_noun = len(cat.adjectives), len(cat.nouns)
        k = int(min(k, n_adj * n_noun))
        combos = rng.choice(n_adj * n_noun, size=k, replace=False)
        names.extend(f"{cat.adjectives[i // n_noun]} {cat.nouns[i % n_noun]}" for i in combos)
        category.extend([c] * k)
        price = cat.median_price * rng.lognormal(0.0, 0.45, k)
        price_cents.append(np.maximum(100, np.round(price).astype(np.int64) * 100) - 1)
        popularity = rng.permutation(1.0 / np.arange(1, k + 1) ** 0.9)
        cum = np.cumsum(popularity)
        cum /= cum[-1]
        cum[-1] = 1.0
        pop_key.append(c + cum)
        phrases = _query_phrases(cat)
        queries.extend(phrases)
        query_counts.append(len(phrases))
    cat_arr = np.array(category, dtype=np.int64)
    return Catalogue(
        category=cat_arr,
        cat_start=_gaps_to_starts(np.bincount(cat_arr, minlength=len(CATEGORIES))),
        pop_key=np.concatenate(pop_key),
        price_cents=np.concatenate(price_cents),
        names=names,
        queries=pa.array(queries, type=pa.string()),
        query_start=_gaps_to_starts(np.array(query_counts)),
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


def simulate_purchases(
    rng: np.random.Generator, customers: Customers, clock: Clock, show_progress: bool
) -> Purchases:
    """BG/NBD-style simulation: seasonal Poisson purchases until dropout or the horizon.

    Loops over purchase *candidates* (thinning) with a shrinking active set; each iteration
    handles every still-active customer at once.
    """
    n = len(customers.rate)
    horizon = clock.horizon
    quick = rng.random(n) < 0.5
    delay = np.where(quick, rng.exponential(15.0 / 1440.0, n), rng.exponential(3.0, n))
    first_t = customers.signup_t + delay
    idx = np.flatnonzero(first_t < horizon)
    t = first_t[idx]
    out_c, out_t = [idx], [t]
    dropped_at = np.full(n, np.nan)
    drop = rng.random(len(idx)) < customers.dropout[idx]
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
            if bar.n % 20 == 0:
                bar.set_postfix(active=len(idx))
    return Purchases(np.concatenate(out_c), np.concatenate(out_t), dropped_at)


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

    for _ in range(6):
        dup = repeated()
        if not dup.any():
            break
        product[dup] = _sample_products(rng, catalogue, item_cat[dup])
    return ~repeated()


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
    n_orders = len(t)
    n_lines = 1 + _categorical(rng, np.array(ITEMS_PER_ORDER_P), n_orders)
    starts = _gaps_to_starts(n_lines)
    item_order = np.repeat(np.arange(n_orders, dtype=np.int64), n_lines)
    pos = _position_in_group(item_order, starts)
    item_cust = cust[item_order]
    item_cat = _sample_categories(rng, customers, item_cust)
    product = _sample_products(rng, catalogue, item_cat)
    keep = _dedupe_lines(rng, catalogue, item_order, item_cat, product, pos)
    item_order, product = item_order[keep], product[keep]
    quantity = 1 + _categorical(rng, np.array(QUANTITY_P), len(product))
    item_t = t[item_order]
    season_boost = clock.season(item_t) > 1.0 + SEASON_YEARLY_AMP + 0.3 * SEASON_PEAK_AMP
    u = rng.random(len(product))
    discount = np.where(season_boost & (u < 0.35), 0.15, np.where(u < 0.05, 0.10, 0.0))
    drift = 1.0 + PRICE_DRIFT_PER_YEAR * item_t / DAYS_PER_YEAR
    price_cents = np.round(catalogue.price_cents[product] * drift * (1.0 - discount))
    price_cents = price_cents.astype(np.int64)
    total_cents = np.bincount(item_order, weights=quantity * price_cents, minlength=n_orders)
    u = rng.random(n_orders)
    cancel_p = CANCEL_BASE + 0.03 * customers.dropout[cust]
    status = np.where(
        u < cancel_p,
        CANCELLED,
        np.where(u < cancel_p + customers.return_propensity[cust], RETURNED, COMPLETED),
    ).astype(np.int8)
    return Orders(
        customer=cust,
        t=t,
        status=status,
        total_cents=np.round(total_cents).astype(np.int64),
        item_order=item_order,
        item_product=product,
        item_quantity=quantity.astype(np.int64),
        item_price_cents=price_cents,
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


def _funnel_events(
    rng: np.random.Generator,
    customers: Customers,
    catalogue: Catalogue,
    orders: Orders,
) -> _EventParts:
    """Search -> view -> add-to-cart sessions in the hours before each order."""
    n_orders = len(orders.t)
    avail = orders.t - customers.signup_t[orders.customer]
    session = np.minimum(
        5.0 / 1440.0 + rng.exponential(8.0 / 24.0, n_orders), 0.98 * np.maximum(avail, 0.0)
    )
    # searches: one per order with some probability, for the first item's category
    first_line = np.searchsorted(orders.item_order, np.arange(n_orders))
    s_ord = np.flatnonzero(rng.random(n_orders) < 0.25)
    s_cat = catalogue.category[orders.item_product[first_line[s_ord]]]
    s_t = orders.t[s_ord] - session[s_ord] * rng.uniform(0.85, 1.0, len(s_ord))
    # views and add-to-carts of each ordered product
    n_items = len(orders.item_order)
    v_line = np.flatnonzero(rng.random(n_items) < 0.6)
    a_line = np.flatnonzero(rng.random(n_items) < 0.5)
    v_ord, a_ord = orders.item_order[v_line], orders.item_order[a_line]
    v_t = orders.t[v_ord] - session[v_ord] * rng.uniform(0.2, 0.85, len(v_line))
    a_t = orders.t[a_ord] - session[a_ord] * rng.uniform(0.01, 0.2, len(a_line))
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
        query=np.concatenate(
            [
                _sample_queries(rng, catalogue, s_cat),
                np.full(len(v_line) + len(a_line), -1, np.int64),
            ]
        ),
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
            _timestamps(clock.to_us(t)),
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
    n_orders = len(orders.t)
    review_p = np.array([REVIEW_P[COMPLETED], REVIEW_P[RETURNED], REVIEW_P[CANCELLED]])
    chosen = np.flatnonzero(rng.random(n_orders) < review_p[orders.status])
    delay = 2.0 + rng.exponential(6.0, len(chosen))
    t = orders.t[chosen] + delay
    first_line = np.searchsorted(orders.item_order, chosen)
    product = orders.item_product[first_line]
    cust = orders.customer[chosen]
    inside = t < clock.horizon
    chosen, t, product, cust = chosen[inside], t[inside], product[inside], cust[inside]
    _, first = np.unique(cust * len(catalogue.category) + product, return_index=True)
    first.sort()
    chosen, t, product, cust = chosen[first], t[first], product[first], cust[first]
    order = np.argsort(t, kind="stable")
    chosen, t, product, cust = chosen[order], t[order], product[order], cust[order]
    returned = (orders.status[chosen] == RETURNED).astype(np.float64)
    rating = ratings(rng, customers.dropout[cust], customers.leniency[cust], returned)
    sentiment = np.where(rating <= 2, NEGATIVE, np.where(rating == 3, NEUTRAL, POSITIVE))
    names = pa.array(catalogue.names, type=pa.string()).take(pa.array(product))
    return pa.Table.from_arrays(
        [
            customer_ids.take(pa.array(cust)),
            product_ids.take(pa.array(product)),
            _timestamps(clock.to_us(t)),
            pa.array(rating, type=pa.int64()),
            review_texts(rng, sentiment, names),
        ],
        schema=SCHEMAS["reviews"],
    )


# --- dirty rows -----------------------------------------------------------------------------


def n_dirty_rows(n_rows: int, fraction: float, n_kinds: int) -> int:
    """How many dirty rows a table of ``n_rows`` clean rows gets (at least one per kind)."""
    if fraction <= 0 or n_rows == 0 or n_kinds == 0:
        return 0
    return max(n_kinds, round(fraction * n_rows))


def _kind_counts(total: int, n_kinds: int) -> list[int]:
    """Split ``total`` dirty rows as evenly as possible over ``n_kinds`` kinds."""
    return [total // n_kinds + (1 if i < total % n_kinds else 0) for i in range(n_kinds)]


def _with_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Replace column ``name`` of ``table``."""
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), values)


def _future_us(rng: np.random.Generator, k: int) -> pa.Array:
    """``k`` timestamps in the year 2099."""
    offset = (rng.random(k) * 364 * US_PER_DAY).astype(np.int64)
    return _timestamps(int(FUTURE_START.astype(np.int64)) + offset)


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
        return _format_ids("c", numbers, self.customer_width)

    def order_ids(self, numbers: np.ndarray) -> pa.Array:
        """Format order numbers as ids."""
        return _format_ids("o", numbers, self.order_width)

    def fresh_customers(self, k: int) -> pa.Array:
        """``k`` customer ids that are not in the customers table."""
        self.next_customer += k
        return self.customer_ids(np.arange(self.next_customer - k, self.next_customer))

    def fresh_orders(self, k: int) -> pa.Array:
        """``k`` order ids that are not (yet) in the orders table."""
        self.next_order += k
        return self.order_ids(np.arange(self.next_order - k, self.next_order))


def _dirty_customers(rng: np.random.Generator, table: pa.Table, fraction: float) -> pa.Table:
    """Duplicate-id rows (a later re-registration) and rows without a customer id."""
    kinds = DIRTY_KINDS["customers"]
    total = n_dirty_rows(table.num_rows, fraction, len(kinds))
    if total == 0:
        return table
    k_dup, k_null = _kind_counts(total, len(kinds))
    dup = _sample_rows(rng, table, k_dup)
    later = pc.cast(dup["signed_up_at"], pa.int64()).to_numpy() + (
        (1 + rng.random(k_dup) * 30) * US_PER_DAY
    ).astype(np.int64)
    dup = _with_column(dup, "signed_up_at", _timestamps(later))
    null = _sample_rows(rng, table, k_null)
    null = _with_column(null, "customer_id", pa.nulls(k_null, pa.string()))
    return _interleave(rng, table, pa.concat_tables([dup, null]))


def _dirty_orders(
    rng: np.random.Generator, table: pa.Table, fraction: float, ids: IdSpace
) -> pa.Table:
    """Null ids, duplicates, bad totals, future dates and unknown customers."""
    kinds = DIRTY_KINDS["orders"]
    total = n_dirty_rows(table.num_rows, fraction, len(kinds))
    if total == 0:
        return table
    counts = dict(zip(kinds, _kind_counts(total, len(kinds)), strict=True))
    parts: list[pa.Table] = []
    for kind in kinds:
        k = counts[kind]
        rows = _sample_rows(rng, table, k)
        if kind == "duplicate_row":
            parts.append(rows)
            continue
        if kind == "null_order_id":
            parts.append(_with_column(rows, "order_id", pa.nulls(k, pa.string())))
            continue
        rows = _with_column(rows, "order_id", ids.fresh_orders(k))
        totals = rows["order_total"].to_numpy()
        if kind == "null_customer_id":
            rows = _with_column(rows, "customer_id", pa.nulls(k, pa.string()))
        elif kind == "negative_total":
            rows = _with_column(rows, "order_total", pa.array(-np.abs(totals) - 0.01))
        elif kind == "nan_total":
            rows = _with_column(rows, "order_total", pa.array(np.full(k, np.nan)))
        elif kind == "inf_total":
            rows = _with_column(rows, "order_total", pa.array(np.full(k, np.inf)))
        elif kind == "future_ordered_at":
            rows = _with_column(rows, "ordered_at", _future_us(rng, k))
        elif kind == "unknown_customer":
            rows = _with_column(rows, "customer_id", ids.fresh_customers(k))
        parts.append(rows)
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
    null = _sample_rows(rng, table, k_null)
    null = _with_column(null, "customer_id", pa.nulls(k_null, pa.string()))
    future = _sample_rows(rng, table, k_future)
    future = _with_column(future, "event_at", _future_us(rng, k_future))
    dup = _sample_rows(rng, table, k_dup)
    return _interleave(rng, table, pa.concat_tables([null, future, dup]))


def _dirty_review_text(rng: np.random.Generator, kind: str, texts: list[str]) -> list[str]:
    """Corrupt review texts: very long, non-ASCII, or containing an e-mail and phone number."""
    out = []
    for i, text in enumerate(texts):
        k = int(rng.integers(0, 10_000))
        if kind == "long_text":
            out.append(" ".join([text] * (3100 // max(len(text), 1) + 2)))
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
        if kind == "rating_zero":
            rating[positions[sel]] = 0
        elif kind == "rating_seven":
            rating[positions[sel]] = 7
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


# --- assembly -------------------------------------------------------------------------------


def _orders_tables(
    orders: Orders, ids: IdSpace, customer_ids: pa.Array, product_ids: pa.Array, clock: Clock
) -> tuple[pa.Table, pa.Table]:
    """The clean orders and order_items tables."""
    order_ids = ids.order_ids(np.arange(len(orders.t)))
    orders_table = pa.Table.from_arrays(
        [
            order_ids,
            customer_ids.take(pa.array(orders.customer)),
            _timestamps(clock.to_us(orders.t)),
            pa.array(orders.total_cents / 100.0, type=pa.float64()),
            pa.array(STATUSES, type=pa.string()).take(pa.array(orders.status)),
        ],
        schema=SCHEMAS["orders"],
    )
    items_table = pa.Table.from_arrays(
        [
            order_ids.take(pa.array(orders.item_order)),
            product_ids.take(pa.array(orders.item_product)),
            pa.array(orders.item_quantity, type=pa.int64()),
            pa.array(orders.item_price_cents / 100.0, type=pa.float64()),
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
    if not 0.0 <= dirty_fraction < 0.5:
        raise ValueError(f"dirty_fraction must be in [0, 0.5), got {dirty_fraction}")


def generate_shop_with_latent(
    n_customers: int,
    seed: int = 0,
    start: str = "2023-01-01",
    end: str = "2025-12-31",
    dirty_fraction: float = 0.002,
    show_progress: bool = True,
) -> tuple[dict[str, pa.Table], pa.Table]:
    """Generate the shop tables plus a ground-truth table of latent customer parameters.

    The latent table has one row per (clean) customer: ``customer_id``, ``purchase_rate``
    (purchases per day before seasonality), ``dropout_prob`` (per purchase),
    ``return_propensity``, ``rating_leniency``, ``dropped_out_at`` (null if still alive at
    ``end``) and ``is_alive_at_end``. ``end`` is exclusive: no clean row is at or after it.
    """
    _validate_args(n_customers, dirty_fraction)
    clock = make_clock(start, end)
    rng = _rngs(
        seed, ("customers", "catalogue", "purchases", "orders", "events", "reviews", "dirty")
    )
    began = time.perf_counter()
    with tqdm(total=8, desc="synthetic shop", unit="stage", disable=not show_progress) as bar:
        with _stage(bar, "customers"):
            customers = make_customers(rng["customers"], n_customers, clock.horizon)
        with _stage(bar, "catalogue"):
            catalogue = make_catalogue(rng["catalogue"], n_customers)
            n_prod = len(catalogue.category)
            product_ids = _format_ids("p", np.arange(n_prod), _id_width(4, n_prod))
        with _stage(bar, "purchases"):
            purchases = simulate_purchases(rng["purchases"], customers, clock, show_progress)
        with _stage(bar, "orders"):
            orders = make_orders(rng["orders"], customers, catalogue, purchases, clock)
            ids = IdSpace(
                n_customers=n_customers,
                n_orders=len(orders.t),
                customer_width=_id_width(7, 2 * n_customers + 10_000),
                order_width=_id_width(8, 2 * len(orders.t) + 10_000),
            )
            customer_ids = ids.customer_ids(np.arange(n_customers))
            orders_table, items_table = _orders_tables(
                orders, ids, customer_ids, product_ids, clock
            )
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
        with _stage(bar, "reviews"):
            reviews = make_reviews(
                rng["reviews"], customers, catalogue, orders, clock, customer_ids, product_ids
            )
        with _stage(bar, "tables"):
            customers_table = pa.Table.from_arrays(
                [
                    customer_ids,
                    _timestamps(clock.to_us(customers.signup_t)),
                    pa.array([c[0] for c in COUNTRIES]).take(pa.array(customers.country)),
                    pa.array([c[0] for c in CHANNELS]).take(pa.array(customers.channel)),
                ],
                schema=SCHEMAS["customers"],
            )
            products_table = pa.Table.from_arrays(
                [
                    product_ids,
                    pa.array(catalogue.names, type=pa.string()),
                    pa.array([c.name for c in CATEGORIES]).take(pa.array(catalogue.category)),
                ],
                schema=SCHEMAS["products"],
            )
            latent = _latent_table(customers, purchases, customer_ids, clock)
        with _stage(bar, "dirty rows"):
            dirty = rng["dirty"]
            tables = {
                "customers": _dirty_customers(dirty, customers_table, dirty_fraction),
                "orders": _dirty_orders(dirty, orders_table, dirty_fraction, ids),
                "order_items": _dirty_order_items(dirty, items_table, dirty_fraction, ids),
                "products": products_table,
                "events": _dirty_events(dirty, events, dirty_fraction),
                "reviews": _dirty_reviews(dirty, reviews, dirty_fraction),
            }
    tables = {name: tables[name].combine_chunks() for name in TABLE_NAMES}
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
    start: str = "2023-01-01",
    end: str = "2025-12-31",
    dirty_fraction: float = 0.002,
    show_progress: bool = True,
) -> dict[str, pa.Table]:
    """Generate a synthetic shop: ``{customers, orders, order_items, products, events, reviews}``.

    Deterministic in all arguments (``show_progress`` aside). Covers ``[start, end)``;
    ``dirty_fraction`` of each table's rows (at least one per kind, see :data:`DIRTY_KINDS`)
    are deliberately broken; ``0`` gives perfectly clean data.
    """
    tables, _ = generate_shop_with_latent(
        n_customers, seed, start, end, dirty_fraction, show_progress
    )
    return tables


def write_shop(tables: dict[str, pa.Table], out_dir: str | Path) -> None:
    """Write each table to ``<out_dir>/<name>.parquet`` (zstd); same input -> same bytes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        path = out / f"{name}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)
        tmp.replace(path)
        logger.info("wrote %s (%d rows)", path, table.num_rows)


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
        default=0.002,
        help="fraction of deliberately broken rows per table (default 0.002)",
    )
    p.add_argument("--start", default="2023-01-01", help="first day, YYYY-MM-DD")
    p.add_argument("--end", default="2025-12-31", help="end day (exclusive), YYYY-MM-DD")
    p.add_argument(
        "--latent",
        action="store_true",
        help="also write ground-truth latent parameters to <out>/_latent/customer_latent.parquet",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return p


def main_synthetic(argv: list[str] | None = None) -> int:
    """CLI: ``--customers N --seed S --out DIR [--dirty-fraction F] [--start D] [--end D]``."""
    args = _parser().parse_args(argv)
    began = time.perf_counter()
    tables, latent = generate_shop_with_latent(
        args.customers,
        seed=args.seed,
        start=args.start,
        end=args.end,
        dirty_fraction=args.dirty_fraction,
        show_progress=not args.no_progress,
    )
    write_shop(tables, args.out)
    if args.latent:
        write_shop({"customer_latent": latent}, Path(args.out) / "_latent")
    counts = ", ".join(f"{name}={t.num_rows}" for name, t in tables.items())
    print(f"wrote {args.out}: {counts} ({time.perf_counter() - began:.1f}s)")
    return 0
