"""Fresh-clone defects: what the Makefile and the repository need without a trained model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_DIR

SQLFLUFF = Path(sys.executable).with_name("sqlfluff")


def test_benchmark_cdnow_builds_no_scoring_model_before_training():
    """Defect 16: its `dbt build` included tag:scoring before any model existed."""
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "benchmark-cdnow"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    before_training = dry.split("python -m training")[0]
    builds = [line for line in before_training.splitlines() if " build " in line]
    assert builds, dry
    assert all("--selector features" in line for line in builds), builds


def test_no_link_outside_the_repository():
    """Defect 19: pyproject linked ../shared/, which is not in the repository."""
    assert "../shared" not in (PROJECT_DIR / "pyproject.toml").read_text()


def test_scoring_models_are_linted_without_a_trained_model(tmp_path):
    """Defect 18: `make lint` skipped customer_scores and backtest_scores without a model."""
    env = {
        **os.environ,
        "CLV_MODEL_PATH": str(tmp_path / "no_model"),
        "CLV_DUCKDB_PATH": str(tmp_path / "lint.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    run = subprocess.run(
        [str(SQLFLUFF), "lint", "models/scoring", "--format", "json"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Skipped file" not in run.stdout + run.stderr, run.stderr[-3000:]
    linted = {Path(f["filepath"]).name: f for f in json.loads(run.stdout)}
    assert {"customer_scores.sql", "backtest_scores.sql"} <= set(linted)
    assert run.returncode == 0, json.dumps(linted, indent=1)[:3000]
