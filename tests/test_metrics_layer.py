"""The MetricFlow metrics layer: `mf query` on a scored warehouse equals plain SQL on the marts."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_DIR, run_dbt

SHOP_VARS = {
    "training_cutoffs": {"step_days": 182, "count": 2},
    "horizon_days": 180,
    "churn_horizon_days": 90,
}
# What `mf` needs of the project; its own copy of target/ (mf reads
# <project>/target/semantic_manifest.json, whatever --target-path dbt was given).
PROJECT_ENTRIES = (
    "dbt_project.yml",
    "profiles.yml",
    "selectors.yml",
    "models",
    "macros",
    "seeds",
    "analyses",
    "tests",
)
# The `mf` CLI asks pypi.org for a newer version at every start (update_checker, no switch to
# turn it off) and unpickles $TMPDIR/update_checker_cache.pkl: run it with a stub module
# instead, and fail on any socket, so the test proves `mf` works offline.
MF_OFFLINE = """
import sys, types

def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        raise RuntimeError(f"mf tried to reach the network: {event} {args!r}")

sys.addaudithook(no_network)
sys.modules["update_checker"] = types.SimpleNamespace(
    UpdateChecker=lambda: types.SimpleNamespace(check=lambda *args: None)
)
from dbt_metricflow.cli.main import cli

cli(prog_name="mf")
"""
TOLERANCE = 1e-6
MF_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def scored_warehouse(small_warehouse, tiny_artifacts, tmp_path_factory) -> Path:
    """The small synthetic warehouse, scored by the tiny model (scoring models and marts)."""
    work = tmp_path_factory.mktemp("metrics_warehouse")
    shutil.copy(small_warehouse.db_path, work / "warehouse.duckdb")
    run = run_dbt(
        work, small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS,
        ("build", "--selector", "scoring"), model_path=tiny_artifacts,
    )  # fmt: skip
    assert run.returncode == 0, run.output[-5000:]
    return run.db_path


@pytest.fixture(scope="module")
def mf_project(scored_warehouse, tmp_path_factory) -> Path:
    """A project folder for `mf` (links to this project) whose target/ holds the semantic
    manifest dbt wrote when it built the scored warehouse."""
    project = tmp_path_factory.mktemp("mf_project")
    for entry in PROJECT_ENTRIES:
        (project / entry).symlink_to(PROJECT_DIR / entry)
    (project / "target").symlink_to(scored_warehouse.parent / "target")
    assert (project / "target" / "semantic_manifest.json").exists()
    return project


def run_mf(project: Path, database: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CLV_DUCKDB_PATH": str(database),
        "CLV_EXPORT_PATH": str(database.parent / "exports"),
        "CLV_MODEL_PATH": str(database.parent / "no_model"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "PYTHONPATH": str(PROJECT_DIR),
    }
    return subprocess.run(
        [sys.executable, "-c", MF_OFFLINE, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=MF_TIMEOUT_S,
    )


def mf_query(project: Path, database: Path, metrics: str, group_by: str) -> list[dict[str, str]]:
    """`mf query --metrics ... --group-by ...` as CSV rows (one dict per row)."""
    out = database.parent / f"mf_{metrics}_{group_by}.csv".replace(",", "+")
    done = run_mf(
        project, database, "query", "--metrics", metrics, "--group-by", group_by, "--csv", str(out)
    )
    assert done.returncode == 0 and out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, f"mf query {metrics} by {group_by} returned no rows"
    return rows


def sql(database: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(query).fetchall()


def assert_close(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, abs=TOLERANCE, rel=TOLERANCE), key


def test_semantic_manifest_validates(mf_project, scored_warehouse):
    done = run_mf(mf_project, scored_warehouse, "validate-configs", "--skip-dw")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "ERRORS: 0, FUTURE_ERRORS: 0, WARNINGS: 0" in output, output[-3000:]


def test_revenue_at_risk_by_segment_equals_sql(mf_project, scored_warehouse):
    rows = mf_query(mf_project, scored_warehouse, "revenue_at_risk,customers", "customer__segment")
    expected = sql(
        scored_warehouse,
        """
        select segment, sum(predicted_clv * churn_probability), count(*)
        from customer_segments group by segment
        """,
    )
    assert len(expected) > 1
    assert_close(
        {row["customer__segment"]: float(row["revenue_at_risk"]) for row in rows},
        {segment: at_risk for segment, at_risk, _ in expected},
    )
    assert {row["customer__segment"]: int(row["customers"]) for row in rows} == {
        segment: customers for segment, _, customers in expected
    }


def test_predicted_churn_rate_by_cohort_equals_sql(mf_project, scored_warehouse):
    rows = mf_query(
        mf_project, scored_warehouse, "predicted_churn_rate", "customer__cohort_month__month"
    )
    expected = sql(
        scored_warehouse,
        """
        select customer_features.cohort_month, avg(customer_segments.churn_probability)
        from customer_segments
        left join customer_features on customer_segments.customer_id = customer_features.customer_id
        group by customer_features.cohort_month
        """,
    )
    assert len(expected) > 1
    assert_close(
        {
            date.fromisoformat(row["customer__cohort_month__month"][:10]): float(
                row["predicted_churn_rate"]
            )
            for row in rows
        },
        dict(expected),
    )


def test_observed_retention_by_cohort_and_month_equals_the_mart(mf_project, scored_warehouse):
    cohort = "cohort_month_offset__cohort_month__month"
    offset = "cohort_month_offset__months_since_first_order"
    rows = mf_query(mf_project, scored_warehouse, "observed_retention_rate", f"{cohort},{offset}")
    expected = sql(
        scored_warehouse,
        "select cohort_month, months_since_first_order, retention_rate from cohort_retention",
    )
    assert_close(
        {
            (date.fromisoformat(row[cohort][:10]), int(row[offset])): float(
                row["observed_retention_rate"]
            )
            for row in rows
        },
        {(cohort_month, months): rate for cohort_month, months, rate in expected},
    )
