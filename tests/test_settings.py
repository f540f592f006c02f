"""One project configuration: dbt, training, scoring and the summary read the same settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from python_udfs import settings
from tests.conftest import DBT, PROJECT_DIR
from training.config import TrainConfig, parse_args

CDNOW_WAREHOUSE = PROJECT_DIR / "warehouse" / "clv.duckdb"


@pytest.fixture
def clean_env(monkeypatch):
    """No CLV_* or DBT_TARGET setting inherited from the caller's shell."""
    for name in list(os.environ):
        if name.startswith(settings.ENV_PREFIX) or name == settings.PROFILE_TARGET_ENV:
            monkeypatch.delenv(name)
    return monkeypatch


def test_python_and_dbt_know_the_same_settings_each_with_its_env_var():
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert set(project["vars"]) == set(settings.SETTINGS)
    for name, raw in project["vars"].items():
        assert f"env_var('{settings.env_name(name)}'" in raw, name
    macro = (PROJECT_DIR / "macros" / "settings.sql").read_text()
    kinds = dict(re.findall(r"'(\w+)': '(\w+)',", macro.split("endmacro")[0]))
    assert kinds == settings.SETTINGS


def test_defaults_are_the_bundled_demo(clean_env):
    loaded = settings.load()
    assert loaded.raw_path == "data/cdnow" and loaded.raw_format == "csv"
    assert loaded.horizon_days == 273 and loaded.as_of_date is None
    assert loaded.training_cutoffs == {"step_days": 91, "count": 8}
    assert loaded.duckdb_path == Path("warehouse/clv.duckdb")
    assert loaded.model_path == Path("artifacts")


def test_env_vars_override_every_command(clean_env, tmp_path):
    clean_env.setenv("CLV_RAW_PATH", str(tmp_path / "export"))
    clean_env.setenv("CLV_HORIZON_DAYS", "90")
    clean_env.setenv("CLV_AS_OF_DATE", "2024-03-01")
    clean_env.setenv("CLV_TRAINING_CUTOFFS", '["2023-06-01", "2023-09-01"]')
    clean_env.setenv("CLV_DUCKDB_PATH", str(tmp_path / "shop.duckdb"))
    clean_env.setenv("CLV_MODEL_PATH", str(tmp_path / "models"))
    loaded = settings.load()
    assert loaded.raw_path == str(tmp_path / "export")
    assert loaded.horizon_days == 90 and loaded.as_of_date == "2024-03-01"
    assert loaded.training_cutoffs == ["2023-06-01", "2023-09-01"]
    # Defect 1: `python -m training` trained on the demo warehouse whatever CLV_DUCKDB_PATH said.
    assert parse_args([]).database == tmp_path / "shop.duckdb"
    assert parse_args([]).output_dir == tmp_path / "models"
    assert TrainConfig().database == tmp_path / "shop.duckdb"
    assert parse_args(["--database", "other.duckdb"]).database == Path("other.duckdb")


def test_the_summary_reads_the_configured_warehouse(clean_env, tmp_path):
    from shopdata import summary

    clean_env.setenv("CLV_DUCKDB_PATH", str(tmp_path / "missing.duckdb"))
    with pytest.raises(duckdb.Error, match=r"missing\.duckdb"):
        summary.main([])


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CLV_HORIZON_DAYS", "90 or 1=1", "positive whole number"),
        ("CLV_HORIZON_DAYS", "0", "positive whole number"),
        ("CLV_AS_OF_DATE", "2024-02-30", "not a date"),
        ("CLV_AS_OF_DATE", "2024-01-01' or 'x", "not a date"),
        ("CLV_RAW_FORMAT", "xlsx", "csv or parquet"),
        ("CLV_TRAINING_CUTOFFS", '{"stepdays": 7}', "unknown key"),
        ("CLV_TRAINING_CUTOFFS", '["1997-13-01"]', "not a date"),
        ("CLV_CHURN_RISK_HIGH", "1.5", "from 0 to 1"),
        ("CLV_RAW_PATH", "data/\nexport", "without line breaks"),
    ],
)
def test_bad_values_are_refused_naming_the_var_and_env_var(clean_env, name, value, message):
    clean_env.setenv(name, value)
    with pytest.raises(settings.SettingsError, match=message) as error:
        settings.load()
    assert name in str(error.value)


def _dbt(env: dict, work: Path, *args: str) -> subprocess.CompletedProcess:
    """Plain `dbt` of the project as a user runs it: no --vars, only the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(settings.ENV_PREFIX)}
    return subprocess.run(
        [str(DBT), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=PROJECT_DIR,
        env={**clean, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", **env},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip


def test_dbt_sees_the_same_typed_settings_as_python(clean_env, tmp_path):
    env = {
        "CLV_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
        "CLV_HORIZON_DAYS": "90",
        "CLV_TRAINING_CUTOFFS": "{start: 2020-01-01, step_days: 30, count: 2}",
        "CLV_AS_OF_DATE": "2021-01-01",
        "CLV_RAW_PATH": str(tmp_path / "it's here"),
        "CLV_MODEL_PATH": str(tmp_path / "no_model"),
    }
    run = _dbt(env, tmp_path, "run-operation", "print_settings")
    assert run.returncode == 0, run.stdout[-3000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("CLV_SETTINGS "))
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert json.loads(line.removeprefix("CLV_SETTINGS ")) == settings.load().vars


def _write_orders(raw: Path, customers: int) -> None:
    raw.mkdir(parents=True)
    lines = ["order_id,customer_id,ordered_at,order_total,status"]
    for c in range(customers):
        for k, day in enumerate(("2023-01-05", "2023-04-10", "2023-08-20")):
            lines.append(f"o{c}_{k},own{c},{day} 10:00:00,{10 + c + k}.50,completed")
    (raw / "orders.csv").write_text("\n".join(lines) + "\n")


def test_own_data_run_uses_the_env_and_never_touches_the_demo_data(clean_env, tmp_path):
    """Defect 3: a plain `dbt build` rebuilt the warehouse from the bundled CDNOW files."""
    raw, db = tmp_path / "o'brien export", tmp_path / "own.duckdb"  # a quote in the path
    _write_orders(raw, customers=7)
    demo_before = CDNOW_WAREHOUSE.stat().st_mtime_ns if CDNOW_WAREHOUSE.exists() else None
    env = {
        "CLV_RAW_PATH": str(raw),
        "CLV_DUCKDB_PATH": str(db),
        "CLV_MODEL_PATH": str(tmp_path / "artifacts"),
        "CLV_EXPORT_PATH": str(tmp_path / "exports"),
        "CLV_HORIZON_DAYS": "60",
        "CLV_CHURN_HORIZON_DAYS": "60",
        "CLV_TRAINING_CUTOFFS": '{"step_days": 30, "count": 2}',
    }
    run = _dbt(env, tmp_path, "build", "--exclude", "tag:scoring")
    assert run.returncode == 0, run.stdout[-5000:]
    with duckdb.connect(str(db), read_only=True) as con:
        ids = {r[0] for r in con.execute("select customer_id from customer_features").fetchall()}
        horizons = con.execute(
            "select distinct horizon_end_date - cutoff_date from cutoffs"
        ).fetchall()
    assert ids == {f"own{c}" for c in range(7)}
    assert horizons == [(60,)]
    demo_after = CDNOW_WAREHOUSE.stat().st_mtime_ns if CDNOW_WAREHOUSE.exists() else None
    assert demo_after == demo_before
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert parse_args([]).database == db  # the next documented command: python -m training
