"""Interventions with holdout groups: the arm hash, the campaign checks, and a synthetic shop
whose campaign has a known effect that intervention_outcomes must recover.

The SQL arithmetic (windows, CIs, never-reassign) has dbt unit tests in
models/marts/interventions/_interventions__unit_tests.yml; these tests run the real project.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopdata.campaigns import (
    CAMPAIGNS_SCHEMA,
    HOLDOUT,
    TREATMENT,
    Campaign,
    assign_arm,
    holdout_draw,
)
from shopdata.contract import write_shop
from shopdata.synthetic import CampaignEffect, generate_shop, generate_shop_with_latent
from shopdata.synthetic import main_synthetic as synthetic_cli
from tests.conftest import PROJECT_DIR, run_dbt

# The vars the tiny model (tiny_artifacts) was trained with: scoring checks the horizons.
SHOP_VARS = {
    "training_cutoffs": {"step_days": 182, "count": 2},
    "horizon_days": 180,
    "churn_horizon_days": 90,
}
CAMPAIGN_START = "2025-06-01"
MEASUREMENT_DAYS = 90
HOLDOUT_SHARE = 0.3
EXTRA_PURCHASE_P = 0.3
N_CUSTOMERS = 2_500
SEED = 7
Z_95 = 1.959963984540054
#: The holdout share of the assignments may differ from the configured one by this many
#: binomial standard errors.
SHARE_TOLERANCE_SE = 4.0

# --- the arm hash -----------------------------------------------------------------------------


def test_holdout_draw_matches_the_values_pinned_in_the_sql_unit_test():
    """The dbt unit test assignments_arm_is_the_hash_of_campaign_and_customer expects these."""
    assert holdout_draw("spring", "a") == 0.8386378511786461
    assert holdout_draw("spring", "e") == 0.07405372080393136
    assert assign_arm("spring", "a", 0.5) == TREATMENT
    assert assign_arm("spring", "e", 0.5) == HOLDOUT
    assert assign_arm("spring", "e", 0.07) == TREATMENT


def test_holdout_draws_are_uniform():
    draws = [holdout_draw("c1", f"customer{i}") for i in range(20_000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert abs(sum(d < 0.2 for d in draws) / len(draws) - 0.2) < 0.01


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"campaign_id": "Bad Id"}, "campaign_id"),
        ({"holdout_share": 1.0}, "holdout_share"),
        ({"holdout_share": 0.0}, "holdout_share"),
        ({"end_date": dt.date(2025, 6, 1)}, "end_date"),
        ({"measurement_days": 0}, "measurement_days"),
        ({"campaign_action": " "}, "campaign_action"),
    ],
)
def test_a_bad_campaign_is_rejected_in_python(change, message):
    row = {
        "campaign_id": "ok",
        "segment": "*",
        "campaign_action": "mail",
        "holdout_share": 0.2,
        "start_date": dt.date(2025, 6, 1),
        "end_date": dt.date(2025, 6, 2),
        "measurement_days": 30,
    }
    with pytest.raises(ValueError, match=message):
        Campaign(**{**row, **change})


# --- the synthetic campaign -------------------------------------------------------------------


def _effect(**change) -> CampaignEffect:
    return CampaignEffect(
        **{
            "campaign_id": "test_push",
            "start": CAMPAIGN_START,
            "holdout_share": HOLDOUT_SHARE,
            "measurement_days": MEASUREMENT_DAYS,
            "extra_purchase_probability": EXTRA_PURCHASE_P,
            **change,
        }
    )


def test_the_campaign_adds_one_completed_order_per_treated_customer_in_the_window():
    plain = generate_shop(1_000, seed=1, dirty_fraction=0.0, show_progress=False)
    tables, latent = generate_shop_with_latent(
        1_000, seed=1, dirty_fraction=0.0, show_progress=False, campaign=_effect()
    )
    for name in ("customers", "products"):
        assert tables[name].equals(plain[name]), name
    truth = latent.to_pylist()
    treated = [
        r
        for r in truth
        if r["campaign_eligible"]
        and r["campaign_arm"] == TREATMENT
        and r["campaign_extra_purchase"]
    ]
    assert len(treated) > 50
    assert tables["orders"].num_rows - plain["orders"].num_rows == len(treated)
    assert all(r["campaign_arm"] == assign_arm("test_push", r["customer_id"], 0.3) for r in truth)
    start = dt.datetime.fromisoformat(CAMPAIGN_START)
    window = (start, start + dt.timedelta(days=MEASUREMENT_DAYS))
    bought = {
        o["customer_id"]
        for o in tables["orders"].to_pylist()
        if o["status"] == "completed" and window[0] <= o["ordered_at"] < window[1]
    }
    assert {r["customer_id"] for r in treated} <= bought
    assert tables["campaigns"].to_pylist() == [
        {
            "campaign_id": "test_push",
            "segment": "*",
            "campaign_action": "synthetic: extra purchase, p = 0.3",
            "holdout_share": 0.3,
            "start_date": dt.date(2025, 6, 1),
            "end_date": dt.date(2025, 6, 2),
            "measurement_days": 90,
        }
    ]


def test_the_cli_writes_the_campaign_and_its_truth(tmp_path: Path):
    out = tmp_path / "shop"
    args = ["--customers", "300", "--seed", "2", "--out", str(out), "--no-progress"]
    campaign = ["--campaign-id", "spring", "--campaign-start", "2024-06-01"]
    assert synthetic_cli([*args, "--latent", *campaign, "--campaign-holdout-share", "0.4"]) == 0
    assert pq.read_table(out / "campaigns.parquet").column("holdout_share").to_pylist() == [0.4]
    latent = pq.read_table(out / "_latent" / "customer_latent.parquet")
    assert "campaign_organic_retained" in latent.column_names
    with pytest.raises(SystemExit):
        synthetic_cli([*args, *campaign, "--campaign-holdout-share", "1.5"])
    with pytest.raises(SystemExit):
        synthetic_cli([*args, "--campaign-id", "spring"])


def test_a_and_a_campaigns_find_no_effect_at_the_nominal_rate():
    """Arms drawn by the hash are independent of the outcome: over many campaign ids without
    an effect, the 95% interval of the retention difference misses 0 about 5% of the time."""
    _, latent = generate_shop_with_latent(
        N_CUSTOMERS, seed=SEED, dirty_fraction=0.0, show_progress=False, campaign=_effect()
    )
    rows = [r for r in latent.to_pylist() if r["campaign_eligible"]]
    retained = [
        r["campaign_organic_retained"]
        or (r["campaign_arm"] == TREATMENT and r["campaign_extra_purchase"])
        for r in rows
    ]
    misses = 0
    n_campaigns = 200
    for k in range(n_campaigns):
        arms = [assign_arm(f"aa{k}", r["customer_id"], 0.5) for r in rows]
        groups = {
            arm: [y for y, a in zip(retained, arms, strict=True) if a == arm]
            for arm in (TREATMENT, HOLDOUT)
        }
        p1, p0 = (sum(g) / len(g) for g in groups.values())
        n1, n0 = (len(g) for g in groups.values())
        se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        misses += abs(p1 - p0) > Z_95 * se
    assert 0.01 <= misses / n_campaigns <= 0.10, misses


# --- campaign checks in dbt -------------------------------------------------------------------


#: Only the campaign models; `cautious` keeps the tests of other models on segment_actions out.
CAMPAIGN_CHECKS = (
    *("build", "--select", "segment_actions campaigns campaign_config"),
    *("--indirect-selection", "cautious"),
)


def _campaign_checks(work: Path, raw: Path) -> tuple[int, str, Path]:
    """Build the seeds and campaign_config only (no model needed)."""
    run = run_dbt(
        work,
        raw,
        "csv",
        command=CAMPAIGN_CHECKS,
        model_path=work / "no_model",  # keeps run_dbt from excluding tag:scoring
    )
    return run.returncode, run.output, run.db_path


def test_the_seed_campaigns_are_valid_and_used_without_a_campaigns_file(tmp_path: Path):
    rc, output, db = _campaign_checks(tmp_path, PROJECT_DIR / "data" / "cdnow")
    assert rc == 0, output[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select campaign_id, segment, defined_in, start_date from campaign_config order by 1"
        ).fetchall()
        segments = {r[0] for r in con.execute("select segment from segment_actions").fetchall()}
    assert [r[0] for r in rows] == [
        "high_value_watch_checkin_1998q3",
        "medium_value_at_risk_winback_1998q3",
    ]
    assert all(r[1] in segments and r[2] == "seed campaigns" for r in rows)
    # CDNOW's default as_of_date is the day after its last order: the campaigns start then.
    assert {r[3] for r in rows} == {dt.date(1998, 7, 1)}


BAD_CAMPAIGNS = f"""{",".join(CAMPAIGNS_SCHEMA.names)}
fine,*,mail,0.2,2025-06-01,2025-06-02,30
no_such_segment,vip_people,mail,0.2,2025-06-01,2025-06-02,30
too_big_share,*,mail,1.5,2025-06-01,2025-06-02,30
backwards,*,mail,0.2,2025-06-10,2025-06-01,30
twice,*,mail,0.2,2025-06-01,2025-06-02,30
twice,*,mail,0.2,2025-06-01,2025-06-02,30
Bad Id,*,mail,0.2,2025-06-01,2025-06-02,30
no_action,*,,0.2,2025-06-01,2025-06-02,30
bad_date,*,mail,0.2,2025-13-01,2025-06-02,zero
"""


def test_bad_campaign_rows_stop_the_build_naming_each_row_and_the_fix(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "campaigns.csv").write_text(BAD_CAMPAIGNS)
    rc, output, db = _campaign_checks(tmp_path, raw)
    assert rc != 0
    message = " ".join(output.split())
    assert "has 8 bad row(s); fix them and rebuild" in message
    for expected in (
        "Row 2 (campaign_id 'no_such_segment'): unknown segment 'vip_people': use one of ",
        "high_value_at_risk",
        "or * for every customer",
        "Row 3 (campaign_id 'too_big_share'): holdout_share '1.5' must be a number > 0 and < 1",
        "Row 4 (campaign_id 'backwards'): end_date 2025-06-01 must be after start_date 2025-06-10",
        "(campaign_id 'twice'): campaign_id appears 2 times: give each campaign its own id",
        "(campaign_id 'Bad Id'): campaign_id must be 1-64 lower-case letters",
        "(campaign_id 'no_action'): campaign_action is empty",
        "start_date '2025-13-01' must be a date YYYY-MM-DD",
        "measurement_days 'zero' must be a whole number of days >= 1",
    ):
        assert expected in message, expected
    assert "Row 1 " not in message
    with duckdb.connect(str(db), read_only=True) as con:
        built = con.execute(
            "select count(*) from information_schema.tables where table_name = 'campaign_config'"
        ).fetchone()[0]
    assert built == 0


# --- end to end: the mart recovers the known effect ------------------------------------------


def _assignments(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select * from intervention_assignments order by campaign_id, customer_id"
        ).fetchall()


def _outcome(db: Path, campaign_id: str) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        result = con.execute(
            "select * from intervention_outcomes where campaign_id = ?", [campaign_id]
        )
        names = [d[0] for d in result.description]
        return dict(zip(names, result.fetchone(), strict=True))


@pytest.fixture(scope="module")
def campaign_shop(tmp_path_factory) -> tuple[Path, pa.Table]:
    """A clean synthetic shop with the campaign test_push (known effect) and an A/A campaign
    still_open (no effect, assignment window open until after the second run)."""
    raw = tmp_path_factory.mktemp("campaign_shop") / "raw"
    tables, latent = generate_shop_with_latent(
        N_CUSTOMERS, seed=SEED, dirty_fraction=0.0, show_progress=False, campaign=_effect()
    )
    start = dt.date.fromisoformat(CAMPAIGN_START)
    still_open = Campaign(
        campaign_id="still_open",
        segment="*",
        campaign_action="nothing (A/A test)",
        holdout_share=0.5,
        start_date=start,
        end_date=start + dt.timedelta(days=MEASUREMENT_DAYS + 1),
        measurement_days=MEASUREMENT_DAYS,
    )
    tables["campaigns"] = pa.concat_tables([tables["campaigns"], still_open.to_table()])
    assert tables["campaigns"].schema == CAMPAIGNS_SCHEMA
    write_shop(tables, raw)
    return raw, latent


def test_outcomes_recover_the_known_campaign_effect(campaign_shop, tiny_artifacts, tmp_path):
    raw, latent = campaign_shop
    start = dt.date.fromisoformat(CAMPAIGN_START)
    measured = start + dt.timedelta(days=MEASUREMENT_DAYS)

    # Run 1 at the start: assigns, measures nothing yet.
    first = run_dbt(
        tmp_path, raw, "parquet", {**SHOP_VARS, "as_of_date": CAMPAIGN_START},
        model_path=tiny_artifacts,
    )  # fmt: skip
    assert first.returncode == 0, first.output[-5000:]
    assigned = _assignments(first.db_path)
    pushed = [r for r in assigned if r[0] == "test_push"]
    # The SQL hash is the Python one, row by row.
    assert all(r[3] == holdout_draw(r[0], r[1]) for r in assigned)
    assert all(r[2] == assign_arm(r[0], r[1], r[4]) for r in assigned)
    # Every eligible customer (a purchase before the start) is assigned, the holdout share
    # is the configured one.
    eligible = {r["customer_id"] for r in latent.to_pylist() if r["campaign_eligible"]}
    assert {r[1] for r in pushed} == eligible
    holdout = sum(r[2] == HOLDOUT for r in pushed) / len(pushed)
    se = math.sqrt(HOLDOUT_SHARE * (1 - HOLDOUT_SHARE) / len(pushed))
    assert abs(holdout - HOLDOUT_SHARE) < SHARE_TOLERANCE_SE * se, holdout
    fresh = _outcome(first.db_path, "test_push")
    assert fresh["status"] == "no_data_yet" and fresh["days_observed"] == 0
    assert fresh["treatment_retention_rate"] is None and fresh["retention_difference"] is None
    with duckdb.connect(str(first.db_path), read_only=True) as con:
        listed = con.execute(
            "select count(*) from campaign_treatment_list where campaign_id = 'test_push'"
        ).fetchone()[0]
    assert listed == sum(r[2] == TREATMENT for r in pushed)

    # Run 2 after the measurement window: nothing re-assigned, the effect measured. `run`:
    # run 1 ran the data and unit tests already.
    second = run_dbt(
        tmp_path, raw, "parquet", {**SHOP_VARS, "as_of_date": measured.isoformat()},
        ("run",), model_path=tiny_artifacts,
    )  # fmt: skip
    assert second.returncode == 0, second.output[-5000:]
    after = _assignments(second.db_path)
    assert set(assigned) <= set(after)  # every first-run row unchanged
    added = [r for r in after if r not in set(assigned)]
    assert added and all(r[0] == "still_open" and r[5] == measured for r in added)
    assert not {r[1] for r in added} & {r[1] for r in assigned if r[0] == "still_open"}

    outcome = _outcome(second.db_path, "test_push")
    assert outcome["status"] == "complete" and outcome["days_observed"] == MEASUREMENT_DAYS
    # The true effect on these customers: retained because of the extra purchase only.
    truth = {r["customer_id"]: r for r in latent.to_pylist()}
    effect = sum(
        truth[c]["campaign_extra_purchase"] and not truth[c]["campaign_organic_retained"]
        for c in eligible
    ) / len(eligible)
    low, high = outcome["retention_difference_ci_low"], outcome["retention_difference_ci_high"]
    assert 0 < low < effect < high, (low, effect, high)
    assert outcome["revenue_difference_ci_low"] > 0
    # Without the campaign the holdout's retention is the organic one, exactly.
    holdout_ids = {r[1] for r in pushed if r[2] == HOLDOUT}
    organic = sum(truth[c]["campaign_organic_retained"] for c in holdout_ids)
    assert outcome["holdout_retained"] == organic
    # The A/A campaign has no effect of its own (test_push's is balanced across its arms):
    # its difference is noise, far below the real effect. (With this seed it is a 1-in-100
    # draw, z = -2.6, so its interval just misses 0: test_a_and_a_campaigns_... checks the
    # calibration over many campaign ids.)
    placebo = _outcome(second.db_path, "still_open")
    assert placebo["status"] == "measuring"
    assert abs(placebo["retention_difference"]) < effect / 2
    half_width = (high - low) / 2
    assert half_width == pytest.approx(
        Z_95
        * math.sqrt(
            outcome["treatment_retention_rate"]
            * (1 - outcome["treatment_retention_rate"])
            / outcome["treatment_customers"]
            + outcome["holdout_retention_rate"]
            * (1 - outcome["holdout_retention_rate"])
            / outcome["holdout_customers"]
        ),
        abs=1e-5,
    )
