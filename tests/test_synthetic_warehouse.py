"""End to end: `dbt build` on a small synthetic shop that exercises every raw table."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import token_counts

# The generator's dirty-row kinds and the quarantine reason staging must give each.
EXPECTED_REASONS = {
    "customers": {"duplicate_customer_id", "null_customer_id"},
    "orders": {
        "null_order_id",
        "null_customer_id",
        "duplicate_order_id",
        "negative_order_total",
        "non_finite_order_total",
        "future_ordered_at",
        "unknown_customer",
    },
    "order_items": {"invalid_quantity", "negative_unit_price", "unknown_order"},
    "events": {"null_customer_id", "future_event_at", "duplicate_event"},
    "reviews": {"rating_out_of_range"},
}


@pytest.fixture(scope="module")
def shop(small_warehouse):
    """The session's small synthetic warehouse (1,500 customers, two training cutoffs)."""
    return small_warehouse


@pytest.mark.parametrize("table", [*sorted(EXPECTED_REASONS), "products"])
def test_every_raw_row_is_clean_or_quarantined(shop, table):
    raw_rows = pq.read_metadata(shop.db_path.parent / "raw" / f"{table}.parquet").num_rows
    clean = shop.scalar(f"select count(*) from stg_{table}")
    reasons = Counter(
        r for (r,) in shop.query(f"select rejection_reason from stg_{table}_rejected")
    )
    assert clean > 0
    assert clean + sum(reasons.values()) == raw_rows
    assert set(reasons) == EXPECTED_REASONS.get(table, set())


def test_features_exist_for_every_cutoff_with_labels_for_training(shop):
    per_cutoff = shop.query(
        "select cutoffs.cutoff_date, cutoffs.is_training_cutoff, count(customer_rfm.customer_id) "
        "from cutoffs left join customer_rfm using (cutoff_date) group by all order by 1"
    )
    assert len(per_cutoff) == 3
    assert all(customers > 0 for _, _, customers in per_cutoff)
    assert shop.scalar("select count(distinct cutoff_date) from training_examples") == 2
    assert shop.scalar("select count(*) from customer_features") == per_cutoff[-1][2]
    churn_rate = shop.scalar("select avg(cast(churned as double)) from training_examples")
    assert 0.2 < churn_rate < 0.95


def test_features_are_point_in_time(shop):
    """No feature at a cutoff may see an order, event or review dated on or after it."""
    assert (
        shop.scalar(
            "select count(*) from customer_rfm where last_purchase_date >= cutoff_date "
            "or first_order_date >= cutoff_date"
        )
        == 0
    )
    # Recompute one feature per cutoff from staging: revenue strictly before the cutoff.
    mismatches = shop.scalar(
        """
        with recount as (
            select cutoffs.cutoff_date, stg_orders.customer_id,
                sum(stg_orders.net_revenue) as revenue
            from cutoffs
            inner join stg_orders on stg_orders.ordered_at < cutoffs.cutoff_date
            group by all
        )
        select count(*) from customer_rfm
        full outer join recount using (cutoff_date, customer_id)
        where abs(customer_rfm.monetary_total - recount.revenue) > 1e-6
            or customer_rfm.customer_id is null or recount.customer_id is null
        """
    )
    assert mismatches == 0


def test_behaviour_texts_use_every_source_and_fit_the_token_budget(shop, minilm_tokenizer):
    texts = [t for (t,) in shop.query("select behaviour_text from customer_behaviour_text")]
    joined = "\n".join(texts)
    for phrase in ("last month", "views", "searched", "ordered", "rated", "returned"):
        assert phrase in joined
    assert "@" not in joined
    counts = np.array(token_counts(minilm_tokenizer, texts))
    assert np.percentile(counts, 99) <= 64, np.percentile(counts, [50, 95, 99, 100])
    assert counts.max() <= 72, np.percentile(counts, [50, 95, 99, 100])


def test_master_data_is_used_only_once_known(shop):
    assert (
        shop.scalar("select count(*) from customer_cohorts where acquisition_channel != 'unknown'")
        > 0
    )
    late_signups = shop.scalar(
        """
        select count(*) from customer_cohorts
        inner join stg_customers using (customer_id)
        where stg_customers.signed_up_at >= customer_cohorts.cutoff_date
            and customer_cohorts.acquisition_channel != 'unknown'
        """
    )
    assert late_signups == 0
