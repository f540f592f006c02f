"""End to end: `dbt build` on the vendored CDNOW log, checked against an independent recount."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PROJECT_DIR, run_dbt, token_counts

CDNOW = PROJECT_DIR / "data" / "cdnow"
FH_SAMPLE = PROJECT_DIR / "data" / "cdnow_fh_sample"
CUTOFF = dt.date(1997, 10, 1)
HORIZON_END = CUTOFF + dt.timedelta(days=273)  # 1998-07-01: labels cover 1997-10-01..1998-06-30


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory, tiny_bert):
    """The whole pipeline as `make demo` runs it: features, a tiny model trained on them (its
    horizons must match the warehouse's), then scoring and marts."""
    from training.config import TrainConfig
    from training.train import main as train

    work = tmp_path_factory.mktemp("cdnow")
    dbt_vars = {
        "training_cutoffs": [CUTOFF.isoformat()],
        "horizon_days": 273,
        "churn_horizon_days": 273,
    }
    features = run_dbt(work, CDNOW, extra_vars=dbt_vars, event_embeddings=True)
    assert features.returncode == 0, features.output[-5000:]
    train(
        TrainConfig(
            database=features.db_path,
            output_dir=work / "artifacts",
            base_model=str(tiny_bert),
            mode="head",
            epochs=1,
            baselines=False,
            progress=False,
        )
    )
    run = run_dbt(
        work, CDNOW, extra_vars=dbt_vars, command=("build", "--select", "tag:scoring"),
        model_path=work / "artifacts",
    )  # fmt: skip
    assert run.returncode == 0, run.output[-5000:]
    return run


@pytest.fixture(scope="module")
def raw_orders() -> list[tuple[str, dt.date, float]]:
    with (CDNOW / "orders.csv").open() as f:
        return [
            (
                row["customer_id"],
                dt.date.fromisoformat(row["ordered_at"]),
                float(row["order_total"]),
            )
            for row in csv.DictReader(f)
        ]


def test_every_raw_row_is_clean_and_every_customer_is_present(cdnow):
    assert cdnow.scalar("select count(*) from stg_orders") == 69_659
    assert cdnow.scalar("select count(*) from stg_orders_rejected") == 0
    assert cdnow.scalar("select count(distinct customer_id) from stg_orders") == 23_570
    assert cdnow.scalar("select count(*) from customer_features") == 23_570
    assert cdnow.scalar("select count(*) from training_examples") == 23_570


def test_as_of_date_defaults_to_the_day_after_the_latest_order(cdnow):
    assert cdnow.query("select cutoff_date from cutoffs where is_scoring_cutoff") == [
        (dt.date(1998, 7, 1),)
    ]
    assert cdnow.query(
        "select cutoff_date, horizon_end_date from cutoffs where is_training_cutoff"
    ) == [(CUTOFF, HORIZON_END)]


def test_features_and_labels_match_an_independent_recount(cdnow, raw_orders):
    """Features from orders before 1997-10-01, labels from 1997-10-01 to 1998-06-30."""
    before: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
    after: dict[str, float] = defaultdict(float)
    for customer, day, total in raw_orders:
        if day < CUTOFF:
            before[customer].append((day, total))
        elif day < HORIZON_END:
            after[customer] += total
    rows = cdnow.query(
        """
        select customer_id, frequency, monetary_total, recency_days, tenure_days,
            future_revenue, churned
        from training_examples
        """
    )
    assert len(rows) == len(before)
    for customer, frequency, monetary, recency, tenure, future_revenue, churned in rows:
        history = before[customer]
        days = [day for day, _ in history]
        assert frequency == len(history)
        assert monetary == pytest.approx(sum(total for _, total in history))
        assert recency == (CUTOFF - max(days)).days
        assert tenure == (CUTOFF - min(days)).days
        assert future_revenue == pytest.approx(after.get(customer, 0.0))
        assert churned == (customer not in after)


def test_reproduces_the_classic_fader_hardie_calibration_split(cdnow):
    """BG/NBD and Gamma-Gamma inputs of the 2,357-customer sample match the published summary."""
    sample_to_master = {}
    for line in (FH_SAMPLE / "CDNOW_sample.txt").read_text().splitlines():
        master_id, sample_id, *_ = line.split()
        sample_to_master[int(sample_id)] = str(int(master_id))
    with (FH_SAMPLE / "cdnow_customers_summary_with_transactions.csv").open() as f:
        published = {sample_to_master[int(row["ID"])]: row for row in csv.DictReader(f)}
    ours = {
        customer: (x, t_x, tenure, zbar)
        for customer, x, t_x, tenure, zbar in cdnow.query(
            "select customer_id, repeat_purchase_days, purchase_span_days, tenure_days, "
            "repeat_purchase_value_mean from training_examples"
        )
    }
    assert len(published) == 2_357
    for customer, row in published.items():
        x, t_x_days, tenure_days, zbar = ours[customer]
        assert x == int(row["x"]), customer
        assert (zbar or 0.0) == pytest.approx(float(row["zbar"]), abs=0.006), customer
        assert round(t_x_days / 7, 2) == pytest.approx(float(row["t_x"]), abs=0.006), customer
        # Fader & Hardie measure T to the last calibration day (1997-09-30), one day before
        # our cutoff.
        assert round((tenure_days - 1) / 7, 2) == pytest.approx(float(row["T"]), abs=0.006)


def test_behaviour_texts_fit_the_token_budget(cdnow, minilm_tokenizer):
    texts = [row[0] for row in cdnow.query("select behaviour_text from customer_features")]
    texts += [row[0] for row in cdnow.query("select behaviour_text from training_examples")]
    counts = np.array(token_counts(minilm_tokenizer, texts))
    assert counts.max() <= 64, np.percentile(counts, [50, 95, 100])


def test_cohort_retention_matrix_is_complete(cdnow):
    # Three acquisition months (Jan-Mar 1997), observed until June 1998: 18 + 17 + 16 cells.
    assert cdnow.scalar("select count(*) from cohort_retention") == 51
    month_zero = cdnow.query(
        "select sum(cohort_size), min(retention_rate) from cohort_retention "
        "where months_since_first_order = 0"
    )
    assert month_zero == [(23_570, 1.0)]


def test_paths_in_the_raw_folder_are_the_cdnow_contract_files():
    assert sorted(p.name for p in CDNOW.glob("*.csv")) == [
        "order_items.csv",
        "orders.csv",
        "products.csv",
    ]
    assert Path(CDNOW / "LICENSE-lifetimes.txt").exists()


def test_every_customer_is_scored_and_segmented(cdnow):
    assert cdnow.scalar("select count(*) from customer_scores") == 23_570
    assert cdnow.scalar("select count(distinct customer_id) from customer_segments") == 23_570
    assert cdnow.scalar("select sum(customers) from segment_summary") == 23_570
    assert cdnow.scalar("select sum(customers) from clv_calibration") == 23_570


SUBSET_CUSTOMERS = 3_000  # customers 1..3,000: 9,481 orders, a CDNOW-like small shop
OUTLIER_ORDERS = 20
OUTLIER_TOTAL = "1e12"


def _cdnow_subset(folder: Path, outliers: int) -> Path:
    """CDNOW orders of the first customers, plus `outliers` orders of 1e12 by customers 1..n."""
    folder.mkdir(parents=True)
    with (CDNOW / "orders.csv").open() as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [row for row in reader if int(row[1]) <= SUBSET_CUSTOMERS]
    rows += [
        [f"outlier-{i}", str(i), "1997-03-15", OUTLIER_TOTAL, "completed"]
        for i in range(1, outliers + 1)
    ]
    with (folder / "orders.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return folder


def test_implausible_orders_are_quarantined_and_move_no_features(tmp_path):
    """Twenty orders of 1e12 are quarantined as implausible_order_total, and every customer's
    features and labels (cohort statistics included) are those of the shop without them."""
    extra_vars = {"training_cutoffs": [CUTOFF.isoformat()]}
    runs = {
        n: run_dbt(
            tmp_path / f"n{n}", _cdnow_subset(tmp_path / f"raw{n}", n), extra_vars=extra_vars
        )
        for n in (0, OUTLIER_ORDERS)
    }
    for run in runs.values():
        assert run.returncode == 0, run.output[-3000:]
    assert runs[OUTLIER_ORDERS].query(
        "select rejection_reason, count(*) from stg_orders_rejected group by 1"
    ) == [("implausible_order_total", OUTLIER_ORDERS)]
    assert runs[0].scalar("select count(*) from stg_orders_rejected") == 0
    for table in ("customer_features", "training_examples"):
        sql = f"select * from {table} order by customer_id, cutoff_date"
        clean, dirty = (runs[n].query(sql) for n in (0, OUTLIER_ORDERS))
        assert len(clean) > 2_000
        assert dirty == clean, table


def test_a_catalogue_of_one_product_gives_no_event_text_and_loads_no_encoder(cdnow):
    # CDNOW's one product ("compact disc") says nothing: no text, nothing to embed, while
    # every customer and cutoff still gets its orders as events.
    assert cdnow.scalar("select count(*) from event_texts") == 0
    assert cdnow.scalar("select count(*) from event_text_embeddings") == 0
    assert cdnow.scalar(
        "select count(*) = (select count(*) from (select customer_id, cutoff_date from "
        "customer_features union select customer_id, cutoff_date from training_examples)) "
        "and min(n_events) >= 1 from customer_events"
    )
