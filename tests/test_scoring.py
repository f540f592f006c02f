"""The Arrow scorer and artifact loading: schema checks, bad artifacts, NULLs, determinism."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pytest

from python_udfs.artifact import (
    ArtifactError,
    FeatureSchemaError,
    check_feature_schema,
    resolve_artifact,
)
from python_udfs.scoring import OUTPUT_SCHEMA, Scorer
from training.data import read_table


@pytest.fixture(scope="module")
def scorer(tiny_artifacts) -> Scorer:
    return Scorer(tiny_artifacts, device="cpu")


@pytest.fixture(scope="module")
def features(small_warehouse) -> pa.Table:
    return read_table(
        small_warehouse.db_path, "select * from customer_features order by customer_id limit 300"
    )


def test_scores_every_row_with_probabilities_and_non_negative_clv(scorer, features):
    scored = scorer.score(features)
    assert scored.schema == OUTPUT_SCHEMA
    assert scored.num_rows == features.num_rows
    for column in ("churn_probability", "purchase_probability"):
        values = scored.column(column).to_numpy()
        assert ((values >= 0) & (values <= 1)).all()
    clv = scored.column("predicted_clv").to_numpy()
    assert (clv >= 0).all() and np.isfinite(clv).all()
    p10, p90 = scored.column("clv_p10").to_numpy(), scored.column("clv_p90").to_numpy()
    assert (p10 <= p90).all()
    assert set(scored.column("model_version").to_pylist()) == {scorer.model_version}


def test_scoring_is_deterministic_to_the_bit_across_batchings(scorer, features):
    """A row's score never depends on the rows sharing its call (issue 11)."""
    scorer._cache.clear()
    whole = scorer.score(features)
    fresh = Scorer(resolve_artifact(scorer.config.training["output_dir"]), device="cpu")
    halves = pa.concat_tables(
        [fresh.score(features.slice(0, 150)), fresh.score(features.slice(150))]
    )
    fresh._cache.clear()
    order = np.random.default_rng(0).permutation(features.num_rows)
    shuffled = fresh.score(features.take(order))
    fresh._cache.clear()
    singles = pa.concat_tables([fresh.score(features.slice(i, 1)) for i in range(40)])
    for name in ("predicted_clv", "churn_probability", "clv_p90"):
        expected = whole.column(name).to_numpy()
        np.testing.assert_array_equal(halves.column(name).to_numpy(), expected)
        np.testing.assert_array_equal(shuffled.column(name).to_numpy(), expected[order])
        np.testing.assert_array_equal(singles.column(name).to_numpy(), expected[:40])


def test_duplicate_texts_are_encoded_once(scorer, features):
    duplicated = pa.concat_tables([features.slice(0, 10)] * 5)
    scorer._cache.clear()
    scored = scorer.score(duplicated)
    assert len(scorer._cache) == len(
        set(features.slice(0, 10).column("behaviour_text").to_pylist())
    )
    clv = scored.column("predicted_clv").to_numpy().reshape(5, 10)
    assert (clv == clv[0]).all()


def test_null_and_nan_inputs_score_as_missing(scorer, features):
    row = features.slice(0, 1)
    name = scorer.feature_names[0]
    blanked = row.set_column(row.schema.get_field_index(name), name, pa.array([None], pa.float64()))
    nan = row.set_column(row.schema.get_field_index(name), name, pa.array([float("nan")]))
    a, b = scorer.score(blanked), scorer.score(nan)
    assert np.isfinite(a.column("predicted_clv").to_numpy()).all()
    assert a.column("predicted_clv").to_pylist() == b.column("predicted_clv").to_pylist()


def test_empty_input_gives_an_empty_result(scorer, features):
    assert scorer.score(features.slice(0, 0)).num_rows == 0


def test_missing_feature_column_is_named(scorer, features):
    dropped = features.drop_columns(["recency_days"])
    with pytest.raises(FeatureSchemaError, match="missing: recency_days"):
        scorer.score(dropped)


def test_schema_mismatch_message_names_both_sides():
    with pytest.raises(FeatureSchemaError) as error:
        check_feature_schema(["a", "b", "c"], ["a", "c", "d"])
    assert "missing: b" in str(error.value) and "not in the model: d" in str(error.value)
    with pytest.raises(FeatureSchemaError, match="order differs"):
        check_feature_schema(["a", "b"], ["b", "a"])


def test_missing_artifact_says_how_to_train(tmp_path):
    with pytest.raises(ArtifactError, match=r"no trained model at .*Train one with"):
        resolve_artifact(tmp_path)


def test_corrupted_weights_fail_loudly(tiny_artifacts, tmp_path):
    copy = shutil.copytree(resolve_artifact(tiny_artifacts), tmp_path / "broken")
    (copy / "model.safetensors").write_bytes(b"\x00not a safetensors file")
    with pytest.raises(ArtifactError, match="cannot read"):
        Scorer(copy, device="cpu")


def test_artifact_with_another_format_version_is_refused(tiny_artifacts, tmp_path):
    copy = shutil.copytree(resolve_artifact(tiny_artifacts), tmp_path / "future")
    config = json.loads((copy / "config.json").read_text())
    config["format_version"] = 99
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="artifact format 99"):
        Scorer(copy, device="cpu")
