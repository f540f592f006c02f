"""The text path works at all: a churn effect visible only through product names.

Two synthetic shops of the same seed, one with the planted signal (shopdata.planted: customers
who buy the "refurbished / pre-owned / used" twins of products churn more after the cutoff; no
aggregate shows it) and one without. On the first the event texts must lift the model clearly
over numeric-only and the gate must ship the text model; on the second the gate must not ship
text. Real dbt builds, the real MiniLM embeddings of the event texts, real training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopdata.synthetic import generate_shop, write_shop
from tests.conftest import run_dbt
from training.config import TrainConfig
from training.train import main as train

CUSTOMERS = 5_000
SEED = 11
CUTOFF = "2025-01-01"  # the planted effect starts here (planted_from)
SHOP_VARS = {"training_cutoffs": [CUTOFF], "horizon_days": 180, "churn_horizon_days": 180}
TEXT_VARIANTS = {"sequence_text", "sequence_text_pretrained", "fused", "text"}


def train_on_shop(tmp: Path, planted_signal: float) -> dict:
    shop = generate_shop(
        CUSTOMERS, seed=SEED, show_progress=False, planted_signal=planted_signal,
        planted_from=CUTOFF,
    )  # fmt: skip
    write_shop(shop, tmp / "raw")
    run = run_dbt(tmp, tmp / "raw", "parquet", SHOP_VARS, event_embeddings=True)
    assert run.returncode == 0, run.output[-5000:]
    directory = train(
        TrainConfig(
            database=run.db_path,
            output_dir=tmp / "artifacts",
            variants="numeric,sequence,sequence_text",
            validation="customers",
            test_fraction=0.3,
            early_stopping_fraction=0.4,
            baselines=False,
            bootstrap_samples=300,
            progress=False,
        )
    )
    return json.loads((directory / "report.json").read_text())


def comparison(report: dict, a: str, b: str, metric: str) -> dict:
    (row,) = [r for r in report["comparisons"] if (r["a"], r["b"], r["metric"]) == (a, b, metric)]
    return row


@pytest.mark.parametrize("planted_signal", [3.0, 0.0], ids=["planted", "control"])
def test_the_text_path_finds_a_product_name_signal_and_only_then_ships(tmp_path, planted_signal):
    report = train_on_shop(tmp_path, planted_signal)
    shipped, why = report["context"]["shipped"], report["context"]["text_gate"]
    if planted_signal:
        assert shipped == "sequence_text", why
        for metric in ("normalized_gini", "roc_auc"):
            lift = comparison(report, "sequence_text", "numeric_only", metric)
            assert lift["ci_low"] > 0, lift  # a clear lift, on held-out customers
            assert comparison(report, "sequence_text", "sequence", metric)["ci_low"] > 0
    else:
        assert shipped not in TEXT_VARIANTS, why
