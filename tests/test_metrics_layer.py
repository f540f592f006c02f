"""The MetricFlow metrics layer: `mf query` on a scored warehouse equals plain SQL on the marts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_DIR

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
# instead, and fail on any socket, so the test proves `mf` works offline. Its start-up (imports,
# `dbt debug`) is most of a call's time, so one process runs every command (JSON list in argv[1])
# and prints their exit codes.
MF_OFFLINE = """
import json, sys, types

def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        raise RuntimeError(f"mf tried to reach the network: {event} {args!r}")

sys.addaudithook(no_network)
sys.modules["update_checker"] = types.SimpleNamespace(
    UpdateChecker=lambda: types.SimpleNamespace(check=lambda *args: None)
)
from dbt_metricflow.cli.main import cli

codes = []
for command in json.loads(sys.argv[1]):
    try:
        cli(command, prog_name="mf", standalone_mode=False)
        codes.append(0)
    except SystemExit as stop:
        codes.append(stop.code)
print("MF_EXIT_CODES", json.dumps(codes))
"""
TOLERANCE = 1e-6
MF_TIMEOUT_S = 300
COHORT = "cohort_month_offset__cohort_month__month"
OFFSET = "cohort_month_offset__months_since_first_order"
# name -> (metrics, group by) of the `mf query` runs the tests compare with SQL.
QUERIES = {
    "revenue_at_risk_by_segment": ("revenue_at_risk,customers", "customer__segment"),
    "churn_rate_by_cohort": ("predicted_churn_rate", "customer__cohort_month__month"),
    "retention_by_cohort_and_month": ("observed_retention_rate", f"{COHORT},{OFFSET}"),
}


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


@dataclass
class MfRun:
    """The outcome of the `mf` commands of one process."""

    output: str
    exit_codes: dict[str, int]
    csv_folder: Path

    def rows(self, name: str) -> list[dict[str, str]]:
        """The CSV rows (one dict per row) of the query `name` of QUERIES."""
        assert self.exit_codes[name] == 0, self.output[-5000:]
        with (self.csv_folder / f"{name}.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert rows, f"mf query {name} returned no rows"
        return rows


@pytest.fixture(scope="module")
def mf_run(mf_project, scored_warehouse) -> MfRun:
    """`mf validate-configs` and every query of QUERIES, as CSV, in one offline `mf` process."""
    folder = scored_warehouse.parent / "mf"
    folder.mkdir()
    commands = {"validate-configs": ["validate-configs", "--skip-dw"]}
    for name, (metrics, group_by) in QUERIES.items():
        commands[name] = ["query", "--metrics", metrics, "--group-by", group_by]
        commands[name] += ["--csv", str(folder / f"{name}.csv")]
    env = {
        **os.environ,
        "CLV_DUCKDB_PATH": str(scored_warehouse),
        "CLV_EXPORT_PATH": str(scored_warehouse.parent / "exports"),
        "CLV_MODEL_PATH": str(scored_warehouse.parent / "no_model"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "PYTHONPATH": str(PROJECT_DIR),
    }
    done = subprocess.run(
        [sys.executable, "-c", MF_OFFLINE, json.dumps(list(commands.values()))],
        cwd=mf_project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=MF_TIMEOUT_S,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "MF_EXIT_CODES" in done.stdout, output[-5000:]
    codes = json.loads(done.stdout.rsplit("MF_EXIT_CODES", 1)[1])
    return MfRun(output, dict(zip(commands, codes, strict=True)), folder)


def sql(database: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(query).fetchall()


def assert_close(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, abs=TOLERANCE, rel=TOLERANCE), key


def test_semantic_manifest_validates(mf_run):
    assert mf_run.exit_codes["validate-configs"] == 0, mf_run.output[-5000:]
    assert "ERRORS: 0, FUTURE_ERRORS: 0, WARNINGS: 0" in mf_run.output, mf_run.output[-5000:]


def test_revenue_at_risk_by_segment_equals_sql(mf_run, scored_warehouse):
    rows = mf_run.rows("revenue_at_risk_by_segment")
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


def test_predicted_churn_rate_by_cohort_equals_sql(mf_run, scored_warehouse):
    rows = mf_run.rows("churn_rate_by_cohort")
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


def test_observed_retention_by_cohort_and_month_equals_the_mart(mf_run, scored_warehouse):
    rows = mf_run.rows("retention_by_cohort_and_month")
    expected = sql(
        scored_warehouse,
        "select cohort_month, months_since_first_order, retention_rate from cohort_retention",
    )
    assert_close(
        {
            (date.fromisoformat(row[COHORT][:10]), int(row[OFFSET])): float(
                row["observed_retention_rate"]
            )
            for row in rows
        },
        {(cohort_month, months): rate for cohort_month, months, rate in expected},
    )
