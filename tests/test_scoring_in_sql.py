"""Scoring inside DuckDB: the UDFs on a plain connection, and `dbt build` with the plugin."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from python_udfs.artifact import resolve_artifact, set_current
from python_udfs.scoring import Scorer
from python_udfs.udfs import register
from tests.conftest import run_dbt
from training.config import TrainConfig
from training.data import read_table
from training.train import main as train

# The vars small_warehouse (and the tiny model) were built with.
SHOP_VARS = {
    "training_cutoffs": {"step_days": 182, "count": 2},
    "horizon_days": 180,
    "churn_horizon_days": 90,
}


@pytest.fixture(scope="module")
def features_sql(tiny_artifacts) -> str:
    names = Scorer(tiny_artifacts, device="cpu").feature_names
    return "struct_pack(" + ", ".join(f"{n} := {n}" for n in names) + ")"


def test_udfs_score_on_a_plain_duckdb_connection(small_warehouse, tiny_artifacts, features_sql):
    con = duckdb.connect(str(small_warehouse.db_path), read_only=True)
    register(con, tiny_artifacts, device="cpu")
    rows = con.execute(
        f"""
        select customer_id, clv_score(behaviour_text, {features_sql}) as s,
            predict_clv(behaviour_text, {features_sql}) as clv,
            predict_churn(behaviour_text, {features_sql}) as churn
        from customer_features order by customer_id
        """
    ).fetchall()
    assert len(rows) == con.execute("select count(*) from customer_features").fetchone()[0]
    direct = Scorer(tiny_artifacts, device="cpu").score(
        read_table(small_warehouse.db_path, "select * from customer_features order by customer_id")
    )
    np.testing.assert_allclose(
        [r[1]["predicted_clv"] for r in rows], direct.column("predicted_clv").to_numpy(), rtol=1e-5
    )
    assert [r[2] for r in rows] == pytest.approx([r[1]["predicted_clv"] for r in rows])
    assert [r[3] for r in rows] == pytest.approx([r[1]["churn_probability"] for r in rows])
    info = json.loads(con.execute("select clv_model_info()").fetchone()[0])
    assert info["model_version"] == rows[0][1]["model_version"]
    assert info["uses_text"] and info["embedding_dim"] == 32


def test_the_two_parts_of_scoring_equal_clv_score_to_the_bit(
    small_warehouse, tiny_artifacts, features_sql
):
    """clv_score(t, f) == clv_score_embedded(clv_embed(t), f), in one query or in two."""
    con = duckdb.connect(str(small_warehouse.db_path), read_only=True)
    scorer = register(con, tiny_artifacts, device="cpu")
    one_call = con.execute(
        f"select customer_id, clv_score(behaviour_text, {features_sql}).predicted_clv, "
        f"clv_score_embedded(clv_embed(behaviour_text), {features_sql}).predicted_clv "
        f"from customer_features order by customer_id"
    ).fetchall()
    halves = {}
    for remainder in (0, 1):  # an empty text cache per half
        scorer.get()._cache.clear()
        halves.update(
            con.execute(
                f"select customer_id, clv_score(behaviour_text, {features_sql}).predicted_clv "
                f"from customer_features where hash(customer_id) % 2 = {remainder}"
            ).fetchall()
        )
    assert all(row[1] == row[2] == halves[row[0]] for row in one_call)
    assert con.execute("select len(clv_embed('a text'))").fetchone()[0] == 32


def test_importing_the_plugin_imports_no_torch():
    code = (
        "import sys, python_udfs.plugin, python_udfs.udfs; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_numeric_only_model_embeds_nothing(small_warehouse, tiny_artifacts, tmp_path):
    """What the text gate ships when the text does not help: no encoder work at scoring."""
    import dataclasses

    import torch

    from python_udfs.artifact import load_artifact, save_artifact
    from python_udfs.features import FeatureScaler
    from python_udfs.model import ClvModel

    fused, tokenizer, config = load_artifact(tiny_artifacts)
    torch.manual_seed(0)
    numeric = ClvModel(
        fused.encoder, n_numeric=FeatureScaler.from_dict(config.scaler).width,
        hidden=config.hidden, numeric_blocks=config.numeric_blocks, inputs="numeric",
    )  # fmt: skip
    artifacts = tmp_path / "artifacts"
    numeric_config = dataclasses.replace(config, model_version="numeric-only", inputs="numeric")
    save_artifact(artifacts / "numeric-only", numeric, tokenizer, numeric_config)
    set_current(artifacts, "numeric-only")
    shutil.copy(small_warehouse.db_path, tmp_path / "warehouse.duckdb")
    run = run_dbt(
        tmp_path, small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS,
        ("run", "--select", "text_embeddings", "customer_scores"), model_path=artifacts,
    )  # fmt: skip
    assert run.returncode == 0, run.output[-3000:]
    assert run.scalar("select count(*) from text_embeddings") == 0
    assert run.scalar("select count(*) from customer_scores") == run.scalar(
        "select count(*) from customer_features"
    )


def test_udf_null_handling(small_warehouse, tiny_artifacts, features_sql):
    con = duckdb.connect(str(small_warehouse.db_path), read_only=True)
    register(con, tiny_artifacts, device="cpu")
    null_text, nan_feature = con.execute(
        f"""
        select
            predict_clv(null, {features_sql}),
            predict_clv(behaviour_text,
                        {
            features_sql.replace("recency_days := recency_days", "recency_days := 'nan'::double")
        })
        from customer_features limit 1
        """
    ).fetchone()
    assert null_text is None
    assert np.isfinite(nan_feature)


def test_without_a_model_the_udfs_say_how_to_train(tmp_path):
    con = duckdb.connect()
    register(con, tmp_path / "nothing_here")
    with pytest.raises(duckdb.Error, match=r"no trained model at .*Train one with"):
        con.execute("select clv_model_info()").fetchone()


@pytest.fixture(scope="module")
def scored_shop(small_warehouse, tiny_artifacts, tmp_path_factory):
    work = tmp_path_factory.mktemp("scored_shop")
    raw = small_warehouse.db_path.parent / "raw"
    dbt_vars = SHOP_VARS

    def build(model_path=tiny_artifacts, *flags, extra_vars=None):
        run = run_dbt(
            work, raw, "parquet", {**dbt_vars, **(extra_vars or {})}, ("build", *flags),
            model_path=model_path,
        )  # fmt: skip
        assert run.returncode == 0, run.output[-5000:]
        return run

    return build


def test_dbt_build_scores_every_customer_into_one_segment(scored_shop):
    run = scored_shop()
    customers = run.scalar("select count(*) from customer_features")
    assert run.scalar("select count(*) from customer_scores") == customers
    assert run.scalar("select count(distinct customer_id) from customer_segments") == customers
    assert (
        run.scalar(
            "select count(*) from customer_scores where predicted_clv < 0 "
            "or churn_probability not between 0 and 1"
        )
        == 0
    )
    for mart in ("customer_segments", "segment_summary", "clv_calibration", "score_histograms"):
        assert pq.read_metadata(run.db_path.parent / "exports" / f"{mart}.parquet").num_rows > 0


def test_incremental_runs_rescore_only_what_changed(
    scored_shop, small_warehouse, tiny_bert, tiny_artifacts, tmp_path
):
    first = scored_shop()
    before = dict(first.query("select customer_id, scored_at from customer_scores"))
    embedded = first.query("select text_hash, embedded_at from text_embeddings order by 1")
    customers = first.scalar("select count(*) from customer_scores")
    as_of = first.scalar("select max(cutoff_date) from customer_features")
    second = scored_shop()  # the same day again: nothing is rescored, the history is idempotent
    assert dict(second.query("select customer_id, scored_at from customer_scores")) == before
    assert second.query("select text_hash, embedded_at from text_embeddings order by 1") == embedded
    assert second.scalar("select count(*) from customer_score_history") == customers
    assert second.scalar("select count(*) from score_drift") == 0

    # Two days later, keeping embeddings unused for a day: the texts no one uses now go.
    later = {"as_of_date": str(as_of + timedelta(days=2)), "embedding_retention_days": 1}
    next_day = scored_shop(extra_vars=later)
    history = next_day.query(
        "select as_of_date, count(*), count(distinct customer_id) from customer_score_history "
        "group by 1 order by 1"
    )
    assert [row[0] for row in history] == [as_of, as_of + timedelta(days=2)]
    assert all(row[1] == row[2] for row in history)
    # Only texts not seen before were embedded; the earlier embeddings were kept as they were.
    kept = dict(next_day.query("select text_hash, embedded_at from text_embeddings"))
    in_use = {
        h for (h,) in next_day.query("select md5_number(behaviour_text) from customer_features")
    }
    evicted = {h for h, _ in embedded} - set(kept)
    assert evicted and not evicted & in_use
    assert all(kept[text_hash] == at for text_hash, at in embedded if text_hash not in evicted)
    assert (
        next_day.scalar(
            "select count(*) from text_embeddings where last_used_on < date '"
            f"{as_of + timedelta(days=2)}'"
        )
        == 0
    )
    new_texts = next_day.scalar(
        "select count(distinct behaviour_text) from (select behaviour_text from "
        "customer_features union all select behaviour_text from training_examples where "
        "cutoff_date = (select max(cutoff_date) from training_examples)) where md5_number("
        "behaviour_text) not in (select text_hash from text_embeddings where embedded_at <= "
        f"timestamp '{max(at for _, at in embedded)}')"
    )
    assert len(kept) - (len(embedded) - len(evicted)) == new_texts < len(embedded)
    assert next_day.scalar("select count(*) from score_drift") == 2
    assert next_day.scalar("select max(psi) from score_drift") < 0.25
    # Incremental scores equal a full refresh (re-embedding every text) to the bit.
    scores = "select customer_id, predicted_clv, churn_probability, clv_p90 from customer_scores"
    incremental = sorted(next_day.query(scores))
    refreshed = scored_shop(
        tiny_artifacts, "--full-refresh", "--select", "text_embeddings", "customer_scores",
        extra_vars=later,
    )  # fmt: skip
    assert sorted(refreshed.query(scores)) == incremental
    embedded = refreshed.scalar("select count(*) from text_embeddings")

    artifacts = tmp_path / "artifacts"
    shutil.copytree(resolve_artifact(tiny_artifacts), artifacts / "old")
    train(
        TrainConfig(
            database=small_warehouse.db_path,
            output_dir=artifacts,
            base_model=str(tiny_bert),
            mode="head",
            epochs=1,
            seed=5,
            variants="fused",
            text_gate=False,
            baselines=False,
            progress=False,
        )
    )
    third = scored_shop(artifacts, extra_vars=later)
    versions = third.query("select distinct model_version from customer_scores")
    assert versions == [(resolve_artifact(artifacts).name,)]
    # The new model was trained on the same frozen encoder: its embeddings are reused.
    assert third.scalar("select count(*) from text_embeddings") == embedded
    assert all(
        third.query(
            "select scored_at > max_before from customer_scores, "
            f"(select timestamp '{max(before.values())}' as max_before)"
        )[0]
    )

    set_current(artifacts, "old")
    refreshed = scored_shop(artifacts, "--full-refresh", "--select", "customer_scores")
    assert refreshed.scalar("select count(distinct model_version) from customer_scores") == 1


def test_bi_reads_the_marts_read_only_from_another_process(scored_shop):
    run = scored_shop()
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(con.execute('select count(*) from customer_segments').fetchone()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(run.db_path)], capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == run.scalar("select count(*) from customer_segments")


def test_missing_model_fails_scoring_but_builds_features(small_warehouse, tmp_path):
    run = run_dbt(
        tmp_path, small_warehouse.db_path.parent / "raw", "parquet", model_path=tmp_path / "empty"
    )
    assert run.returncode != 0
    assert "no trained model at" in run.output and "Train one with" in run.output
    assert run.scalar("select count(*) from customer_features") > 0


def _broken_copy(tiny_artifacts, tmp_path, edit) -> Path:
    target = tmp_path / "artifacts"
    shutil.copytree(resolve_artifact(tiny_artifacts), target / "v1")
    set_current(target, "v1")
    edit(target / "v1")
    return target


def test_model_trained_on_another_feature_schema_names_the_columns(
    small_warehouse, tiny_artifacts, tmp_path
):
    def rename_feature(directory):
        config = json.loads((directory / "config.json").read_text())
        config["scaler"]["names"][0] = "loyalty_points"
        (directory / "config.json").write_text(json.dumps(config))

    artifacts = _broken_copy(tiny_artifacts, tmp_path, rename_feature)
    run = run_dbt(tmp_path, small_warehouse.db_path.parent / "raw", "parquet", model_path=artifacts)
    assert run.returncode != 0
    assert "trained on another feature schema" in run.output
    assert "loyalty_points" in run.output and "recency_days" in run.output


def test_corrupted_weights_fail_the_build_loudly(small_warehouse, tiny_artifacts, tmp_path):
    def corrupt(directory):
        (directory / "model.safetensors").write_bytes(b"garbage")

    artifacts = _broken_copy(tiny_artifacts, tmp_path, corrupt)
    shutil.copy(small_warehouse.db_path, tmp_path / "warehouse.duckdb")
    run = run_dbt(
        tmp_path, small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS,
        ("build", "--select", "text_embeddings", "customer_scores"), model_path=artifacts,
    )  # fmt: skip
    assert run.returncode != 0
    assert "cannot read" in run.output and "model.safetensors" in run.output


def test_empty_input_fails_loudly_naming_the_cause(tiny_artifacts, tmp_path):
    """A header-only orders file used to give a green build with empty scores and marts."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text("order_id,customer_id,ordered_at,order_total,status\n")
    run = run_dbt(tmp_path, raw, model_path=tiny_artifacts)
    assert run.returncode != 0
    assert "scoring_population_is_not_collapsed" in run.output
    with duckdb.connect(str(run.db_path), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert "customer_scores" not in tables and "customer_segments" not in tables


def test_a_second_connection_may_not_bring_another_model(tiny_artifacts, tmp_path):
    """DuckDB shares Python UDFs between connections to one file: same model fine, another
    model refused (it would silently score with the first one)."""
    from python_udfs.artifact import ArtifactError

    database = str(tmp_path / "shared.duckdb")
    first = duckdb.connect(database)
    register(first, tiny_artifacts, device="cpu")
    second = duckdb.connect(database)
    register(second, tiny_artifacts, device="cpu")
    assert second.execute("select clv_model_version()").fetchone()[0]
    other = tmp_path / "other"
    shutil.copytree(resolve_artifact(tiny_artifacts), other)
    with pytest.raises(ArtifactError, match="already registered for this database"):
        register(duckdb.connect(database), other, device="cpu")


def test_an_encoder_of_another_size_asks_for_a_rebuild(small_warehouse, tiny_artifacts, tmp_path):
    shutil.copy(small_warehouse.db_path, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(
            "create table text_embeddings (text_hash uhugeint, encoder_fingerprint varchar, "
            "embedding float[8], last_used_on date, embedded_at timestamp)"
        )
    run = run_dbt(
        tmp_path, small_warehouse.db_path.parent / "raw", "parquet", SHOP_VARS,
        ("run", "--select", "text_embeddings"), model_path=tiny_artifacts,
    )  # fmt: skip
    assert run.returncode != 0
    assert "stores FLOAT[8] embeddings" in run.output and "FLOAT[32]" in run.output
    assert "--full-refresh --select text_embeddings+" in run.output
