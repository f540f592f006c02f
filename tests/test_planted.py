"""The planted signal of the synthetic shop (``shopdata.planted``): visible only in names."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from shopdata.planted import (
    MARKER_WORDS,
    default_planted_from,
    is_marker_name,
    marker_share,
)
from shopdata.synthetic import generate_shop, generate_shop_with_latent, main_synthetic, write_shop

N, SEED, SIGNAL = 4_000, 5, 1.0
START, END = "2023-01-01", "2025-12-31"
CUTOFF = default_planted_from(START, END)  # 2024-07-01, where the planted effect starts
HORIZON_DAYS = 273  # the warehouse's default label window

Shop = tuple[dict[str, pa.Table], pa.Table]


@pytest.fixture(scope="module")
def planted() -> Shop:
    return generate_shop_with_latent(
        N, seed=SEED, dirty_fraction=0.0, show_progress=False, planted_signal=SIGNAL
    )


@pytest.fixture(scope="module")
def unplanted() -> Shop:
    return generate_shop_with_latent(N, seed=SEED, dirty_fraction=0.0, show_progress=False)


def _connect(tables: dict[str, pa.Table], **extra: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, table in {**tables, **extra}.items():
        con.register(name, table)
    return con


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_off_leaves_the_shop_byte_identical(tmp_path: Path) -> None:
    """planted_signal=0 (the default) writes the same bytes as a call without the argument."""
    write_shop(generate_shop(600, seed=2, show_progress=False), tmp_path / "default")
    write_shop(
        generate_shop(600, seed=2, show_progress=False, planted_signal=0.0), tmp_path / "zero"
    )
    _, latent = generate_shop_with_latent(600, seed=2, show_progress=False, planted_signal=0.0)
    assert _bytes(tmp_path / "default") == _bytes(tmp_path / "zero")
    assert "marker_affinity" not in latent.column_names


def test_marker_twins_in_every_category_with_the_same_prices(planted: Shop) -> None:
    """Twins: same name + marker word, category and list price; half the lines before the cutoff.

    (After the cutoff twins sell less: their buyers churn. That is the planted effect.)
    """
    tables, _ = planted
    con = _connect(tables)
    names = con.sql("select product_name, category from products").fetchall()
    twins = {(n, c) for n, c in names if is_marker_name(n)}
    originals = {(n, c) for n, c in names if not is_marker_name(n)}
    assert len(twins) == len(originals)
    # each twin is an original's name plus " (<marker word>)", in the same category
    stripped = {(n.rsplit(" (", 1)[0], c) for n, c in twins}
    assert stripped == originals
    assert {n.rsplit(" (", 1)[1][:-1] for n, _ in twins} == set(MARKER_WORDS)
    lines = con.sql(
        "select p.category, p.product_name, i.unit_price from order_items as i"
        " join products as p using (product_id) join orders as o using (order_id)"
        f" where o.ordered_at < timestamp '{CUTOFF}'"
    ).fetchall()
    by_cat: dict[str, dict[bool, list[float]]] = {}
    for category, name, price in lines:
        by_cat.setdefault(category, {True: [], False: []})[is_marker_name(name)].append(price)
    assert len(by_cat) == 10
    for category, groups in by_cat.items():
        marker, plain = np.array(groups[True]), np.array(groups[False])
        # popularity: about half of each category's lines are on twins
        assert 0.4 < len(marker) / (len(marker) + len(plain)) < 0.6, category
        # prices: same quartiles within 20 % per category
        for q in (25, 50, 75):
            ratio = np.percentile(marker, q) / np.percentile(plain, q)
            assert 0.8 < ratio < 1.2, (category, q, ratio)
    every = [(is_marker_name(n), p) for _, n, p in lines]
    ks = stats.ks_2samp([p for m, p in every if m], [p for m, p in every if not m])
    assert ks.statistic < 0.05, ks


def test_the_past_is_the_unplanted_shop_row_for_row(planted: Shop, unplanted: Shop) -> None:
    """Before the cutoff only product ids / names differ: no aggregate can see the signal."""
    on, off = _connect(planted[0]), _connect(unplanted[0])
    past = f"ordered_at < timestamp '{CUTOFF}'"
    n_originals = off.execute("select count(*) from products").fetchall()[0][0]
    queries = [
        f"select * from orders where {past} order by order_id",
        f"select customer_id, event_at, event_type, search_query, product_id is null from events"
        f" where event_at < timestamp '{CUTOFF}' order by all",
        f"select customer_id, reviewed_at, rating from reviews"
        f" where reviewed_at < timestamp '{CUTOFF}' order by all",
        "select * from customers order by customer_id",
        # order lines with the twin's id mapped back to its original (twin = original + n)
        f"select order_id, 'p' || lpad((cast(substr(product_id, 2) as int) % {n_originals})"
        f"::varchar, 4, '0'), quantity, unit_price from order_items"
        f" where order_id in (select order_id from orders where {past}) order by all",
    ]
    for sql in queries:
        assert on.sql(sql).fetchall() == off.sql(sql).fetchall(), sql


def test_future_churn_differs_but_past_aggregates_do_not(planted: Shop) -> None:
    tables, latent = planted
    share = marker_share(tables, before=CUTOFF)
    con = _connect(tables, share=share, latent=latent)
    rows = con.sql(f"""
        with past as (
            select customer_id, count(*) as orders, sum(order_total) as spend,
                date_diff('day', max(ordered_at), timestamp '{CUTOFF}') as recency
            from orders where ordered_at < timestamp '{CUTOFF}' group by 1
        ),
        future as (
            select customer_id, sum(order_total) as value from orders
            where ordered_at >= timestamp '{CUTOFF}'
                and ordered_at < timestamp '{CUTOFF}' + interval {HORIZON_DAYS} day
            group by 1
        )
        select share.marker_share > 0.5, past.orders, past.spend, past.recency,
            future.value is null, coalesce(future.value, 0), latent.marker_affinity
        from share join past using (customer_id) left join future using (customer_id)
        join latent using (customer_id)
        where share.marker_share <> 0.5
    """).fetchall()
    a = np.array(rows, dtype=np.float64)
    high, low = a[a[:, 0] == 1], a[a[:, 0] == 0]
    assert len(high) > 500 and len(low) > 500
    # the latent drives the marker choice
    assert high[:, 6].mean() - low[:, 6].mean() > 0.4
    # the future: much more churn and far less value for the high-marker group
    churn_high, churn_low = high[:, 4].mean(), low[:, 4].mean()
    assert churn_high - churn_low > 0.12, (churn_high, churn_low)
    assert high[:, 5].mean() < 0.5 * low[:, 5].mean()
    # the past: order count, spend and recency alike (means within 10 %, KS < 0.08)
    for column in (1, 2, 3):
        h, lo = high[:, column], low[:, column]
        assert abs(h.mean() / lo.mean() - 1.0) < 0.1, (column, h.mean(), lo.mean())
        assert stats.ks_2samp(h, lo).statistic < 0.08, column


def test_planted_dropouts_end_the_customers_activity(planted: Shop) -> None:
    tables, latent = planted
    con = _connect(tables, latent=latent)
    dropouts = con.execute(
        "select count(*), min(planted_dropout_at), bool_and(dropped_out_at = planted_dropout_at)"
        " from latent where planted_dropout_at is not null"
    ).fetchone()
    assert dropouts is not None and dropouts[0] > 100
    assert str(dropouts[1]) >= CUTOFF and dropouts[2]
    for table, at in (("orders", "ordered_at"), ("events", "event_at"), ("reviews", "reviewed_at")):
        late = con.execute(
            f"select count(*) from {table} join latent using (customer_id)"
            f" where {at} > planted_dropout_at"
        ).fetchone()
        assert late == (0,), table
    dangling = con.execute(
        "select count(*) from order_items where product_id not in (select product_id from products)"
        " or order_id not in (select order_id from orders)"
    ).fetchone()
    assert dangling == (0,)


def test_cli_flag_and_marker_share_of_a_folder(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    args = "--customers 300 --seed 1 --planted-signal 1 --no-progress --latent --out"
    main_synthetic([*args.split(), str(out)])
    share = marker_share(out)
    assert share.num_rows > 100
    assert 0.3 < np.mean(share["marker_share"].to_numpy()) < 0.7
    latent = pa.parquet.read_table(out / "_latent" / "customer_latent.parquet")
    assert "marker_affinity" in latent.column_names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"planted_signal": -1.0}, "planted_signal"),
        ({"planted_signal": float("nan")}, "planted_signal"),
        ({"planted_signal": 1.0, "planted_from": "2026-01-01"}, "planted_from"),
    ],
)
def test_rejects_bad_planted_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_shop(10, show_progress=False, **kwargs)  # type: ignore[arg-type]


def test_cli_rejects_a_negative_signal(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main_synthetic(["--customers", "10", "--out", str(tmp_path), "--planted-signal", "-1"])
