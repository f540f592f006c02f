"""The behaviour-sequence model end to end on the small synthetic shop: trained with masked-event
pretraining on the real event tables, shipped as an artifact, scored in place by `dbt build`
(customer_events -> event_text_vectors -> clv_embed_events -> clv_score_embedded)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import torch

from python_udfs.scoring import Scorer
from tests.conftest import SMALL_SHOP_VARS, run_dbt
from training.config import TrainConfig
from training.data import load_examples
from training.events import load_events
from training.train import main as train


@pytest.fixture(scope="module")
def sequence_artifacts(small_warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sequence_artifacts")
    train(
        TrainConfig(
            database=small_warehouse.db_path,
            output_dir=out,
            variants="sequence_text_pretrained",
            text_gate=False,
            epochs=2,
            pretrain_epochs=1,
            baselines=False,
            bootstrap_samples=10,
            progress=False,
        )
    )
    return out


def _artifact(out: Path) -> Path:
    return out / (out / "current").read_text().strip()


def test_the_artifact_records_the_sequence_model_and_its_pretraining(sequence_artifacts):
    directory = _artifact(sequence_artifacts)
    config = json.loads((directory / "config.json").read_text())
    assert config["inputs"] == "sequence_text"
    sequence = config["sequence"]
    assert sequence["pretrained"] and sequence["text_input_dim"] == 384
    assert sequence["event_text_encoder_fingerprint"]
    report = json.loads((directory / "report.json").read_text())
    pretraining = report["context"]["pretraining"]["sequence_text"]
    # rolling protocol: selection (and the report) on the latest training cutoff, so the
    # pretraining may read histories up to that cutoff and no later one
    assert pretraining["latest_cutoff"] <= min(report["context"]["cutoffs"][-1:])
    assert pretraining["rows"] > 0 and np.isfinite(pretraining["epoch_losses"]).all()


def test_dbt_scores_the_sequence_model_like_the_training_featurisation(
    small_warehouse, sequence_artifacts, tmp_path
):
    """backtest_scores (SQL: events rebuilt from customer_events + event_text_vectors) equal
    the artifact's scores of the same rows featurised by training (training.events)."""
    shutil.copy(small_warehouse.db_path, tmp_path / "warehouse.duckdb")
    run = run_dbt(
        tmp_path, small_warehouse.db_path.parent / "raw", "parquet", SMALL_SHOP_VARS,
        ("build", "--selector", "scoring"), model_path=sequence_artifacts,
    )  # fmt: skip
    assert run.returncode == 0, run.output[-5000:]
    with duckdb.connect(str(run.db_path), read_only=True) as con:
        scored, population = con.execute(
            "select (select count(*) from customer_scores), "
            "(select count(*) from customer_features)"
        ).fetchall()[0]
        assert scored == population > 0
        assert (
            con.execute(
                "select count(*) from customer_scores where not isfinite(predicted_clv) "
                "or not isfinite(churn_probability)"
            ).fetchall()[0][0]
            == 0
        )
        vectors = con.execute("select count(*) from event_text_vectors").fetchall()[0][0]
        assert vectors > 0
        sql = con.sql(
            "select customer_id, cutoff_date, predicted_clv, churn_probability "
            "from backtest_scores order by customer_id"
        ).to_arrow_table()
    directory = _artifact(sequence_artifacts)
    scorer = Scorer(directory)
    examples = load_examples(run.db_path)
    latest = examples.cutoff_date == examples.cutoff_date.max()
    rows = examples.subset(np.flatnonzero(latest))
    config = json.loads((directory / "config.json").read_text())
    events = load_events(
        run.db_path,
        rows.customer_id,
        rows.cutoff_date,
        config["sequence"]["event_text_encoder_fingerprint"],
    )
    sequence = scorer.model.sequence
    assert sequence is not None
    with torch.no_grad():
        batch = events.batch(np.arange(len(rows)), text=True, length=sequence.spec.max_events)
        vectors = sequence(batch).numpy()
    table = pa.Table.from_arrays(
        [pa.array(rows.numeric[:, j]) for j in range(rows.numeric.shape[1])],
        names=rows.feature_names,
    )
    python = scorer.score_embedded(vectors, table)
    order = np.argsort(rows.customer_id)
    assert sql.column("customer_id").to_pylist() == list(rows.customer_id[order])
    np.testing.assert_allclose(
        sql.column("predicted_clv").to_numpy(),
        python.column("predicted_clv").to_numpy()[order],
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        sql.column("churn_probability").to_numpy(),
        python.column("churn_probability").to_numpy()[order],
        atol=1e-5,
    )
