"""Tests of the synthetic shop generator (``shopdata.synthetic``)."""

from __future__ import annotations

import resource
import time
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopdata.synthetic import (
    DIRTY_KINDS,
    generate_shop,
    generate_shop_with_latent,
    main_synthetic,
    write_shop,
)

START, END = "2023-01-01", "2025-12-31"
TS = pa.timestamp("us")

CONTRACT: dict[str, list[tuple[str, pa.DataType]]] = {
    "customers": [
        ("customer_id", pa.string()),
        ("signed_up_at", TS),
        ("country", pa.string()),
        ("acquisition_channel", pa.string()),
    ],
    "orders": [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("ordered_at", TS),
        ("order_total", pa.float64()),
        ("status", pa.string()),
    ],
    "order_items": [
        ("order_id", pa.string()),
        ("product_id", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", pa.float64()),
    ],
    "products": [
        ("product_id", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
    ],
    "events": [
        ("customer_id", pa.string()),
        ("event_at", TS),
        ("event_type", pa.string()),
        ("product_id", pa.string()),
        ("search_query", pa.string()),
    ],
    "reviews": [
        ("customer_id", pa.string()),
        ("product_id", pa.string()),
        ("reviewed_at", TS),
        ("rating", pa.int64()),
        ("review_text", pa.string()),
    ],
}

EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PHONE_RE = r"\+?\(?[0-9]{2,3}\)?[ -]?[0-9]{2,4}[ -]?[0-9]{3,4}[ -]?[0-9]{0,4}"

#: One SQL count per dirty kind; every query counts rows of exactly that kind.
DIRTY_QUERIES: dict[str, dict[str, str]] = {
    "customers": {
        "duplicate_customer_id": "select count(*) - count(distinct customer_id) from customers"
        " where customer_id is not null",
        "null_customer_id": "select count(*) from customers where customer_id is null",
    },
    "orders": {
        "null_order_id": "select count(*) from orders where order_id is null",
        "null_customer_id": "select count(*) from orders where customer_id is null",
        "duplicate_row": "select count(*) - (select count(*) from (select distinct * from orders))"
        " from orders",
        "negative_total": "select count(*) from orders where order_total < 0",
        "nan_total": "select count(*) from orders where isnan(order_total)",
        "inf_total": "select count(*) from orders where isinf(order_total) and order_total > 0",
        "future_ordered_at": f"select count(*) from orders where ordered_at >= '{END}'",
        "unknown_customer": "select count(*) from orders where customer_id is not null"
        " and customer_id not in (select customer_id from customers where customer_id"
        " is not null)",
    },
    "order_items": {
        "zero_quantity": "select count(*) from order_items where quantity = 0",
        "negative_unit_price": "select count(*) from order_items where unit_price < 0",
        "unknown_order": "select count(*) from order_items where order_id not in"
        " (select order_id from orders where order_id is not null)",
    },
    "events": {
        "null_customer_id": "select count(*) from events where customer_id is null",
        "future_event_at": f"select count(*) from events where event_at >= '{END}'",
        "duplicate_row": "select count(*) - (select count(*) from (select distinct * from events))"
        " from events",
    },
    "reviews": {
        "rating_zero": "select count(*) from reviews where rating = 0",
        "rating_seven": "select count(*) from reviews where rating = 7",
        "long_text": "select count(*) from reviews where length(review_text) > 3000",
        "non_ascii_text": "select count(*) from reviews where regexp_matches(review_text,"
        " '[^\\x00-\\x7F]')",
        "pii_text": f"select count(*) from reviews where regexp_matches(review_text, '{EMAIL_RE}')"
        f" and regexp_matches(review_text, '{PHONE_RE}')",
    },
}


def _connect(
    tables: dict[str, pa.Table], latent: pa.Table | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the shop tables (and optionally the latent table) registered."""
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    if latent is not None:
        con.register("latent", latent)
    return con


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """First column of the first row of ``sql``."""
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def dirty_counts(tables: dict[str, pa.Table]) -> dict[tuple[str, str], int]:
    """Rows of each dirty kind, per (table, kind)."""
    con = _connect(tables)
    return {
        (table, kind): int(_scalar(con, sql))
        for table, queries in DIRTY_QUERIES.items()
        for kind, sql in queries.items()
    }


def same_table(a: pa.Table, b: pa.Table) -> bool:
    """Table equality where NaN equals NaN (dirty order totals contain NaN)."""
    if not a.schema.equals(b.schema) or a.num_rows != b.num_rows:
        return False
    for x, y in zip(a.columns, b.columns, strict=True):
        if pa.types.is_floating(x.type):
            xs, ys = x.to_numpy(), y.to_numpy()
            if not np.array_equal(xs, ys, equal_nan=True):
                return False
        elif not x.equals(y):
            return False
    return True


@pytest.fixture(scope="module")
def clean() -> tuple[dict[str, pa.Table], pa.Table]:
    """A clean shop of 3000 customers with its latent parameters."""
    return generate_shop_with_latent(3000, seed=11, dirty_fraction=0.0, show_progress=False)


@pytest.fixture(scope="module")
def dirty() -> dict[str, pa.Table]:
    """A small shop with the default dirty fraction."""
    return generate_shop(1000, seed=5, show_progress=False)


def test_tables_match_the_contract(
    clean: tuple[dict[str, pa.Table], pa.Table], dirty: dict[str, pa.Table]
) -> None:
    for tables in (clean[0], dirty):
        assert list(tables) == list(CONTRACT)
        for name, columns in CONTRACT.items():
            table = tables[name]
            assert table.num_rows > 0, name
            assert [(f.name, f.type) for f in table.schema] == columns, name


def test_same_seed_gives_identical_tables() -> None:
    first = generate_shop(1000, seed=3, show_progress=False)
    second = generate_shop(1000, seed=3, show_progress=False)
    for name in CONTRACT:
        assert same_table(first[name], second[name]), name


def test_different_seeds_give_different_tables() -> None:
    first = generate_shop(1000, seed=3, show_progress=False)
    other = generate_shop(1000, seed=4, show_progress=False)
    for name in CONTRACT:
        assert not same_table(first[name], other[name]), name


def test_write_shop_round_trips_with_identical_bytes(
    dirty: dict[str, pa.Table], tmp_path: Path
) -> None:
    write_shop(dirty, tmp_path / "a")
    write_shop(dirty, tmp_path / "b")
    for name, table in dirty.items():
        a, b = tmp_path / "a" / f"{name}.parquet", tmp_path / "b" / f"{name}.parquet"
        assert same_table(pq.read_table(a), table), name
        assert a.read_bytes() == b.read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        f"{name}.parquet" for name in CONTRACT
    )


def test_every_dirty_kind_is_present(dirty: dict[str, pa.Table]) -> None:
    counts = dirty_counts(dirty)
    expected = {(t, k) for t, kinds in DIRTY_KINDS.items() for k in kinds}
    assert set(counts) == expected
    missing = [key for key, n in counts.items() if n == 0]
    assert not missing, f"dirty kinds missing: {missing}"


def test_clean_shop_has_no_dirty_rows(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    counts = dirty_counts(clean[0])
    found = {key: n for key, n in counts.items() if n}
    assert not found, f"dirty rows in a clean shop: {found}"


def test_dirty_rows_are_added_on_top_of_the_same_clean_data() -> None:
    base = generate_shop(2000, seed=9, dirty_fraction=0.0, show_progress=False)
    noisy = generate_shop(2000, seed=9, dirty_fraction=0.01, show_progress=False)
    assert noisy["products"].equals(base["products"])
    for name in ("customers", "orders", "order_items", "events"):
        n_clean = base[name].num_rows
        assert noisy[name].num_rows == n_clean + round(0.01 * n_clean), name
    assert noisy["reviews"].num_rows == base["reviews"].num_rows  # corrupted in place
    con = _connect(noisy)
    con.register("base_events", base["events"])
    kept = _scalar(
        con, "select count(*) from (select * from base_events intersect all select * from events)"
    )
    assert kept == base["events"].num_rows


def test_referential_integrity_and_consistency(
    clean: tuple[dict[str, pa.Table], pa.Table],
) -> None:
    con = _connect(clean[0])
    checks = {
        "duplicate customer ids": "select count(*) - count(distinct customer_id) from customers",
        "duplicate order ids": "select count(*) - count(distinct order_id) from orders",
        "duplicate product ids": "select count(*) - count(distinct product_id) from products",
        "duplicate order lines": "select count(*) from (select order_id, product_id"
        " from order_items group by all having count(*) > 1)",
        "items without order": "select count(*) from order_items anti join orders using (order_id)",
        "items without product": "select count(*) from order_items anti join products using"
        " (product_id)",
        "orders without items": "select count(*) from orders anti join order_items using"
        " (order_id)",
        "orders without customer": "select count(*) from orders anti join customers using"
        " (customer_id)",
        "events without customer": "select count(*) from events anti join customers using"
        " (customer_id)",
        "product events without product": "select count(*) from events e where event_type in"
        " ('view', 'add_to_cart') and product_id not in (select product_id from products)",
        "search events with product or no query": "select count(*) from events where"
        " event_type = 'search' and (product_id is not null or search_query is null)",
        "product events with query": "select count(*) from events where event_type != 'search'"
        " and search_query is not null",
        "reviews without customer or product": "select count(*) from reviews r where"
        " customer_id not in (select customer_id from customers)"
        " or product_id not in (select product_id from products)",
        "totals not matching items": "select count(*) from orders o join (select order_id,"
        " sum(quantity * unit_price) s from order_items group by 1) i using (order_id)"
        " where abs(o.order_total - round(i.s, 2)) > 1e-9",
        "orders before signup": "select count(*) from orders join customers using"
        " (customer_id) where ordered_at < signed_up_at",
        "events before signup": "select count(*) from events join customers using"
        " (customer_id) where event_at < signed_up_at",
        "reviews before their purchase": "select count(*) from reviews r where reviewed_at <="
        " (select min(ordered_at) from orders o join order_items i using (order_id)"
        " where o.customer_id = r.customer_id and i.product_id = r.product_id)",
        "non-positive prices or quantities": "select count(*) from order_items"
        " where unit_price <= 0 or quantity not between 1 and 5",
        "bad statuses": "select count(*) from orders where status not in"
        " ('completed', 'returned', 'cancelled')",
        "bad event types": "select count(*) from events where event_type not in"
        " ('view', 'search', 'add_to_cart')",
        "ratings out of range": "select count(*) from reviews where rating not between 1 and 5",
    }
    failures = {name: n for name, sql in checks.items() if (n := _scalar(con, sql))}
    assert not failures, failures
    for table, column in [
        ("customers", "signed_up_at"),
        ("orders", "ordered_at"),
        ("events", "event_at"),
        ("reviews", "reviewed_at"),
    ]:
        lo, hi = con.execute(f"select min({column}), max({column}) from {table}").fetchone()
        assert datetime.fromisoformat(START) <= lo and hi < datetime.fromisoformat(END), table


def test_purchase_counts_are_heterogeneous(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    con = _connect(clean[0])
    per_customer = np.array(
        con.execute(
            "select count(o.order_id) from customers c left join orders o using (customer_id)"
            " group by c.customer_id"
        ).fetchnumpy()["count(o.order_id)"]
    )
    assert 3.0 <= per_customer.mean() <= 6.0
    assert (per_customer == 1).mean() > 0.25  # many one-time buyers ...
    assert (per_customer >= 10).mean() > 0.05  # ... a solid group of repeat buyers ...
    assert per_customer.max() >= 8 * per_customer.mean()  # ... and a long tail
    assert per_customer.std() > per_customer.mean()


def test_statuses_and_review_share(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    con = _connect(clean[0])
    shares = dict(
        con.execute(
            "select status, count(*) / sum(count(*)) over () from orders group by 1"
        ).fetchall()
    )
    assert set(shares) == {"completed", "returned", "cancelled"}
    assert shares["completed"] > 0.85
    assert 0.01 < shares["returned"] < 0.1
    assert 0.005 < shares["cancelled"] < 0.06
    review_share = _scalar(con, "select (select count(*) from reviews) / count(*) from orders")
    assert 0.12 < review_share < 0.25


def test_ratings_fall_with_latent_dropout(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    tables, latent = clean
    assert latent.num_rows == tables["customers"].num_rows
    con = _connect(tables, latent)
    corr = _scalar(
        con, "select corr(rating, dropout_prob) from reviews join latent using (customer_id)"
    )
    assert corr < -0.25
    low, high = con.execute(
        "select avg(dropout_prob) filter (where rating <= 2),"
        " avg(dropout_prob) filter (where rating = 5) from reviews join latent using"
        " (customer_id)"
    ).fetchone()
    assert low > 1.5 * high
    negative_words = _scalar(
        con,
        "select avg(case when regexp_matches(review_text, 'disappointed|waste|regret|terrible"
        "|letdown|poor|not what|would not|no\\.|trouble|damaged|expected much more"
        "|felt well made') then 1 else 0 end) from reviews where rating <= 2",
    )
    assert negative_words > 0.9


def test_dropout_ends_purchases(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    tables, latent = clean
    con = _connect(tables, latent)
    after = _scalar(
        con,
        "select count(*) from orders join latent using (customer_id)"
        " where ordered_at > dropped_out_at",
    )
    assert after == 0
    last_is_dropout = _scalar(
        con,
        "select avg(case when l.dropped_out_at = o.last then 1 else 0 end) from latent l"
        " join (select customer_id, max(ordered_at) last from orders group by 1) o"
        " using (customer_id) where l.dropped_out_at is not null",
    )
    assert last_is_dropout == 1.0
    alive_share = _scalar(con, "select avg(is_alive_at_end::int) from latent")
    assert 0.2 < alive_share < 0.7
    # churners keep browsing for a while, but much less than while they were active
    before, after = con.execute(
        "select sum(e.event_at <= l.dropped_out_at)::double"
        " / sum(datediff('second', c.signed_up_at, l.dropped_out_at)),"
        " sum(e.event_at > l.dropped_out_at)::double"
        f" / sum(datediff('second', l.dropped_out_at, timestamp '{END}'))"
        " from latent l join customers c using (customer_id)"
        " left join events e using (customer_id) where l.dropped_out_at is not null"
    ).fetchone()
    assert 0 < after < 0.5 * before


def test_events_and_catalogue(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    tables = clean[0]
    con = _connect(tables)
    per_customer = tables["events"].num_rows / tables["customers"].num_rows
    assert 6 <= per_customer <= 16
    kinds = dict(con.execute("select event_type, count(*) from events group by 1").fetchall())
    assert set(kinds) == {"view", "search", "add_to_cart"}
    assert kinds["view"] > kinds["add_to_cart"] > kinds["search"] > 0
    rows = con.execute(
        "select distinct search_query from events where search_query is not null"
    ).fetchall()
    queries = [q for (q,) in rows]
    assert "garden hose" in queries
    assert all(q == q.lower() and q.isascii() and 1 <= len(q.split()) <= 6 for q in queries)
    products = tables["products"]
    assert 200 <= products.num_rows <= 800
    names = products["product_name"].to_pylist()
    assert len(set(names)) == len(names) and all(n.isascii() for n in names)
    assert len(set(products["category"].to_pylist())) == 10
    lines = con.execute("select count(*) from order_items group by order_id").fetchnumpy()
    assert set(np.unique(lines["count_star()"])) <= {1, 2, 3, 4}


def test_seasonality_and_growth(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    con = _connect(clean[0])
    peak, rest = con.execute(
        "select count(*) filter (where month(ordered_at) in (11, 12)) / 61.0,"
        " count(*) filter (where month(ordered_at) between 5 and 10) / 184.0"
        " from orders"
    ).fetchone()
    assert peak > 1.3 * rest
    signups = dict(
        con.execute("select year(signed_up_at), count(*) from customers group by 1").fetchall()
    )
    assert signups[2023] < signups[2024] < signups[2025]


def test_latent_attributes_shift_behaviour(clean: tuple[dict[str, pa.Table], pa.Table]) -> None:
    con = _connect(*clean)
    by_channel = dict(
        con.execute(
            "select acquisition_channel, avg(dropout_prob) from customers join latent"
            " using (customer_id) group by 1"
        ).fetchall()
    )
    assert by_channel["referral"] < by_channel["organic"] < by_channel["social"]


def test_cli_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shop"
    args = ["--customers", "300", "--seed", "2", "--out", str(out), "--no-progress"]
    assert main_synthetic([*args, "--dirty-fraction", "0", "--latent"]) == 0
    expected = generate_shop(300, seed=2, dirty_fraction=0.0, show_progress=False)
    for name, table in expected.items():
        assert pq.read_table(out / f"{name}.parquet").equals(table), name
    assert (out / "_latent" / "customer_latent.parquet").exists()
    assert "customers=300" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_customers": 0}, "n_customers"),
        ({"n_customers": 10, "dirty_fraction": 0.7}, "dirty_fraction"),
        ({"n_customers": 10, "start": "2024-01-01", "end": "2023-01-01"}, "after start"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_shop(**kwargs, show_progress=False)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_million_customers_fit_the_budget() -> None:
    began = time.perf_counter()
    tables = generate_shop(1_000_000, seed=0, show_progress=False)
    elapsed = time.perf_counter() - began
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    assert elapsed < 180, elapsed
    assert peak_gb < 10, peak_gb
    assert 3e6 < tables["orders"].num_rows < 6e6
    assert 0.7e7 < tables["events"].num_rows < 1.5e7
