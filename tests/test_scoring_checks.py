"""Scoring never writes a silently wrong or silently empty result.

Artifact <-> warehouse checks (feature order, horizons, malformed config.json, versions and
`current` pointers that could inject SQL or escape the folder), NaN / infinite scores, and a
collapsed scoring population. The dbt cases start from one scored warehouse, copied per test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from python_udfs.artifact import (
    ARTIFACT_FORMAT,
    ArtifactError,
    load_artifact,
    read_config,
    resolve_artifact,
)
from python_udfs.artifact import set_current as point_current
from python_udfs.scoring import Scorer, ScoringError
from python_udfs.udfs import register
from tests.conftest import DbtRun, run_dbt
from training.data import read_table

SHOP_VARS = {
    "training_cutoffs": {"step_days": 182, "count": 2},
    "horizon_days": 180,
    "churn_horizon_days": 90,
}


def _copy_artifact(tiny_artifacts: Path, tmp_path: Path, version: str = "v1") -> Path:
    """artifacts/<version> copied from the tiny model, `current` pointing at it."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(resolve_artifact(tiny_artifacts), artifacts / version)
    point_current(artifacts, version)
    return artifacts


def _edit_config(directory: Path, edit) -> None:
    config = json.loads((directory / "config.json").read_text())
    edit(config)
    (directory / "config.json").write_text(json.dumps(config))


def _reorder_features(config: dict) -> None:
    """Swap the first two features, names with their means and stds (a consistent scaler)."""
    for key in ("names", "means", "stds"):
        values = config["scaler"][key]
        values[0], values[1] = values[1], values[0]


def _nan_weights(directory: Path) -> None:
    path = directory / "model.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    state = load_file(str(path))
    state["head.3.bias"][:] = float("nan")
    save_file(state, str(path), metadata=metadata)


# --- Python: artifact loading ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("{not json", "cannot read .*config.json"),
        (
            f'{{"format_version": {ARTIFACT_FORMAT}, "model_version": "v1", "surprise": 1}}',
            "unknown key.*surprise",
        ),
        (f'{{"format_version": {ARTIFACT_FORMAT}}}', "missing key.*model_version"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_malformed_config_is_an_artifact_error_naming_the_file(tmp_path, broken, message):
    (tmp_path / "config.json").write_text(broken)
    with pytest.raises(ArtifactError, match=message):
        read_config(tmp_path)


def test_model_version_must_be_a_plain_name(tiny_artifacts, tmp_path):
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    _edit_config(artifacts / "v1", lambda c: c.update(model_version="x' or true or 'y"))
    with pytest.raises(ArtifactError, match="not a plain name"):
        read_config(artifacts / "v1")


def test_current_must_stay_inside_the_artifacts_folder(tiny_artifacts, tmp_path):
    artifacts = _copy_artifact(tiny_artifacts, tmp_path / "inside")
    outside = _copy_artifact(tiny_artifacts, tmp_path / "outside")
    (artifacts / "current").write_text("../../outside/artifacts/v1\n")
    with pytest.raises(ArtifactError, match="not a plain name"):
        resolve_artifact(artifacts)
    (artifacts / "escape").symlink_to(outside / "v1")
    point_current(artifacts, "escape")
    with pytest.raises(ArtifactError, match="outside"):
        resolve_artifact(artifacts)


def test_a_reordered_feature_list_is_refused_by_the_weights(tiny_artifacts, tmp_path):
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    _edit_config(artifacts / "v1", _reorder_features)
    with pytest.raises(ArtifactError, match="in this order"):
        load_artifact(artifacts)


def test_nan_scores_are_refused_naming_the_model(tiny_artifacts, small_warehouse, tmp_path):
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    _nan_weights(artifacts / "v1")
    features = read_table(small_warehouse.db_path, "select * from customer_features limit 20")
    version = read_config(artifacts / "v1").model_version
    with pytest.raises(ScoringError, match=f"model {version} .*NaN or infinite"):
        Scorer(artifacts, device="cpu").score(features)


def test_register_twice_on_one_connection_and_with_a_malformed_artifact(tiny_artifacts, tmp_path):
    """Defect 13: re-registering failed with 'clv_model_version already exists'."""
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    con = duckdb.connect()
    register(con, artifacts, device="cpu")
    register(con, artifacts, device="cpu")
    version = read_config(artifacts / "v1").model_version
    assert con.execute("select clv_model_version()").fetchall() == [(version,)]
    (artifacts / "v1" / "config.json").write_text("{not json")
    register(con, artifacts, device="cpu")  # no exception: only calls fail
    with pytest.raises(duckdb.Error, match=r"cannot read .*v1/config.json"):
        con.execute("select clv_model_info()").fetchone()


# --- dbt: checks before scoring, NaN, population ---------------------------------------------


@pytest.fixture(scope="module")
def scored_warehouse(small_warehouse, tiny_artifacts, tmp_path_factory) -> DbtRun:
    """small_warehouse + customer_scores and the marts, built once with the tiny model."""
    work = tmp_path_factory.mktemp("scored_warehouse")
    shutil.copy(small_warehouse.db_path, work / "warehouse.duckdb")
    run = run_dbt(
        work, small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS,
        ("build", "--select", "tag:scoring"), model_path=tiny_artifacts,
    )  # fmt: skip
    assert run.returncode == 0, run.output[-5000:]
    return run


def _scoring_run(scored_warehouse, small_warehouse, tmp_path, model_path, *args, raw=None):
    """Copy the scored warehouse and run dbt on the copy (default: build customer_scores)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(scored_warehouse.db_path, tmp_path / "warehouse.duckdb")
    command = args or ("build", "--select", "customer_scores")
    raw = raw or small_warehouse.db_path.parent / "raw"
    fmt = "parquet" if raw == small_warehouse.db_path.parent / "raw" else "csv"
    return run_dbt(tmp_path, raw, fmt, SHOP_VARS, command, model_path=model_path)


def test_reordered_feature_list_is_refused_before_scoring(
    scored_warehouse, small_warehouse, tiny_artifacts, tmp_path
):
    """Defect 4: names with their means and stds reordered scored silently wrong."""
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    _edit_config(artifacts / "v1", _reorder_features)
    run = _scoring_run(scored_warehouse, small_warehouse, tmp_path / "w", artifacts)
    assert run.returncode != 0
    assert "another order than the warehouse" in run.output
    assert "at position 0" in run.output and "config.json" in run.output


def test_horizons_of_model_and_warehouse_must_agree(
    scored_warehouse, small_warehouse, tiny_artifacts, tmp_path
):
    """Defect 2: a 273-day model scored a 180-day warehouse without a word."""
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    _edit_config(artifacts / "v1", lambda c: c.update(horizon_days=273))
    run = _scoring_run(scored_warehouse, small_warehouse, tmp_path / "w", artifacts)
    assert run.returncode != 0
    assert "predicts horizon_days=273" in run.output
    assert "cutoffs use horizon_days=180" in run.output and "CLV_HORIZON_DAYS" in run.output


def test_malformed_config_fails_only_the_models_that_need_the_model(
    scored_warehouse, small_warehouse, tiny_artifacts, tmp_path
):
    """Defect 13: a bad config.json broke every dbt command, feature builds included."""
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    (artifacts / "v1" / "config.json").write_text(
        f'{{"format_version": {ARTIFACT_FORMAT}, "model_version": "v1"}}'
    )
    features = _scoring_run(
        scored_warehouse, small_warehouse, tmp_path / "f", artifacts,
        "build", "--select", "cutoffs", "customer_rfm",
    )  # fmt: skip
    assert features.returncode == 0, features.output[-3000:]
    scoring = _scoring_run(scored_warehouse, small_warehouse, tmp_path / "s", artifacts)
    assert scoring.returncode != 0
    assert "config.json" in scoring.output and "missing key" in scoring.output
    assert "already exists" not in features.output + scoring.output


def test_injected_model_version_never_executes(
    scored_warehouse, small_warehouse, tiny_artifacts, tmp_path
):
    """Defect 14: the artifact's model_version was pasted into SQL."""
    artifacts = _copy_artifact(tiny_artifacts, tmp_path)
    _edit_config(artifacts / "v1", lambda c: c.update(model_version="x' or true or 'y"))
    run = _scoring_run(scored_warehouse, small_warehouse, tmp_path / "w", artifacts)
    assert run.returncode != 0 and "not a plain name" in run.output


def test_nan_model_writes_nothing_and_invalid_scores_are_rescored(
    scored_warehouse, small_warehouse, tiny_artifacts, tmp_path
):
    """Defect 6: NaN scores were written, passed not_null, and were never rescored."""
    before = scored_warehouse.query("select customer_id, scored_at from customer_scores")
    nan_artifacts = _copy_artifact(tiny_artifacts, tmp_path / "nan", version="nan_model")
    _nan_weights(nan_artifacts / "nan_model")
    _edit_config(nan_artifacts / "nan_model", lambda c: c.update(model_version="nan_model"))
    failed = _scoring_run(scored_warehouse, small_warehouse, tmp_path / "w", nan_artifacts)
    assert failed.returncode != 0
    assert "model nan_model" in failed.output and "NaN or infinite" in failed.output
    assert sorted(failed.query("select customer_id, scored_at from customer_scores")) == sorted(
        before
    )

    # A warehouse that already holds NaN scores (e.g. written before this check existed).
    db = tmp_path / "w" / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update customer_scores set predicted_clv = 'nan'::double where customer_id in "
            "(select customer_id from customer_scores order by customer_id limit 5)"
        )
    tested = run_dbt(
        tmp_path / "w", small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS,
        ("test", "--select", "customer_scores"), model_path=tiny_artifacts,
    )  # fmt: skip
    assert tested.returncode != 0 and "customer_scores_are_finite" in tested.output
    rerun = run_dbt(
        tmp_path / "w", small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS,
        ("build", "--select", "customer_scores"), model_path=tiny_artifacts,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.output[-3000:]
    assert rerun.scalar("select count(*) from customer_scores where isnan(predicted_clv)") == 0
    rescored = rerun.scalar(
        "select count(*) from customer_scores where scored_at > "
        f"timestamp '{max(t for _, t in before)}'"
    )
    assert rescored == 5


def test_header_only_export_fails_before_scores_and_marts_are_overwritten(
    scored_warehouse, small_warehouse, tiny_artifacts, tmp_path
):
    """Defect 5: an empty input gave a green build that emptied customer_scores and marts."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text("order_id,customer_id,ordered_at,order_total,status\n")
    shutil.copytree(scored_warehouse.db_path.parent / "exports", tmp_path / "w" / "exports")
    scores = scored_warehouse.scalar("select count(*) from customer_scores")
    segments = pq.read_metadata(tmp_path / "w" / "exports" / "customer_segments.parquet").num_rows
    run = _scoring_run(
        scored_warehouse, small_warehouse, tmp_path / "w", tiny_artifacts, "build", raw=raw
    )
    assert run.returncode != 0
    assert "scoring_population_is_not_collapsed" in run.output
    assert run.scalar("select count(*) from customer_scores") == scores > 0
    assert run.scalar("select count(*) from customer_segments") == segments
    exported = pq.read_metadata(tmp_path / "w" / "exports" / "customer_segments.parquet")
    assert exported.num_rows == segments


def test_collapsed_population_is_refused_naming_cause_and_fix(
    scored_warehouse, small_warehouse, tiny_artifacts, tmp_path
):
    work = tmp_path / "w"
    work.mkdir()
    shutil.copy(scored_warehouse.db_path, work / "warehouse.duckdb")
    with duckdb.connect(str(work / "warehouse.duckdb")) as con:
        con.execute("delete from customer_features where hash(customer_id) % 10 < 7")
    args = (small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS)
    test = run_dbt(
        work, *args, ("test", "--select", "scoring_population_is_not_collapsed"),
        model_path=tiny_artifacts,
    )  # fmt: skip
    assert test.returncode != 0 and "scoring_population_is_not_collapsed" in test.output
    run = run_dbt(work, *args, ("build", "--select", "customer_scores"), model_path=tiny_artifacts)
    assert run.returncode != 0
    assert "population collapsed" in run.output and "CLV_MIN_POPULATION_SHARE=0" in run.output
    assert run.scalar("select count(*) from customer_scores") == scored_warehouse.scalar(
        "select count(*) from customer_scores"
    )
