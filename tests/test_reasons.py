"""Reasons behind the scores: driver occlusion (python_udfs.reasons), its UDF, its faithfulness
and customer_score_reasons built by `dbt build`."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import torch

from python_udfs.artifact import load_artifact, save_artifact, set_current
from python_udfs.features import DERIVED_FEATURES, FeatureScaler
from python_udfs.model import ClvModel
from python_udfs.reasons import (
    DRIVER_FEATURES,
    OTHER_DRIVER,
    TEXT_DRIVER,
    Head,
    driver_columns,
    effects_to_arrow,
    occlude,
    reference_encoding,
)
from python_udfs.scoring import Scorer
from python_udfs.udfs import register
from tests.conftest import PROJECT_DIR, run_dbt
from training.data import read_table

SHOP_VARS = {
    "training_cutoffs": {"step_days": 182, "count": 2},
    "horizon_days": 180,
    "churn_horizon_days": 90,
}
MIN_CHURN_EFFECT = 0.001  # macros/reasons.sql reason_min_churn_effect
MIN_CLV_EFFECT = 0.01  # macros/reasons.sql reason_min_clv_effect
SEED = 7


@pytest.fixture(scope="module")
def scorer(tiny_artifacts) -> Scorer:
    return Scorer(tiny_artifacts, device="cpu")


@pytest.fixture(scope="module")
def customers(small_warehouse) -> pa.Table:
    return read_table(
        small_warehouse.db_path, "select * from customer_features order by customer_id"
    )


@pytest.fixture(scope="module")
def embeddings(scorer, customers) -> np.ndarray:
    return scorer.embed(customers.column("behaviour_text").to_pylist())


@pytest.fixture(scope="module")
def effects(scorer, customers, embeddings):
    return scorer.driver_effects(embeddings, customers)


def _raw_reference(scaler: FeatureScaler) -> np.ndarray:
    """The raw value of every declared feature whose signed_log1p is its training mean."""
    means = np.asarray(scaler.means[: len(scaler.names)])
    return np.sign(means) * np.expm1(np.abs(means))


def _score_without(scorer, customers, embeddings, rows, drivers) -> np.ndarray:
    """churn_probability through the public scoring path (Scorer.score_embedded) with the raw
    features of `drivers` at their training mean (BG/NBD inputs recomputed from them) and, for
    the text driver, the empty text's embedding: removal done independently of reasons.py."""
    names = scorer.feature_names
    raw = np.column_stack([customers.column(n).to_numpy(zero_copy_only=False) for n in names])
    raw = raw[rows].astype(np.float64)
    text = embeddings[rows].copy()
    reference = _raw_reference(scorer.scaler)
    for i, chosen in enumerate(drivers):
        for driver in chosen:
            if driver == TEXT_DRIVER:
                text[i] = scorer.embed([""])[0]
                continue
            for name in DRIVER_FEATURES[driver]:
                if name in names:
                    raw[i, names.index(name)] = reference[names.index(name)]
    table = pa.table({n: raw[:, j] for j, n in enumerate(names)})
    return scorer.score_embedded(text, table).column("churn_probability").to_numpy()


def _warehouse_features() -> list[str]:
    macro = (PROJECT_DIR / "macros" / "customer_feature_rows.sql").read_text()
    body = macro.split("macro numeric_feature_columns")[1].split("endmacro")[0]
    return [name.split(".")[-1] for name in re.findall(r"'([a-z_]+\.[a-z0-9_]+)'", body)]


def test_every_model_input_belongs_to_exactly_one_driver():
    """A new feature needs a driver (and a phrase), or its effect would hide in other_features."""
    inputs = [*_warehouse_features(), *DERIVED_FEATURES]
    mapped = [name for names in DRIVER_FEATURES.values() for name in names]
    assert len(inputs) > 30
    assert sorted(mapped) == sorted(set(mapped)), "a feature is in two drivers"
    assert set(inputs) - set(mapped) == set(), "features without a driver"
    assert set(mapped) - set(inputs) == set(), "drivers name unknown features"
    phrases = (PROJECT_DIR / "macros" / "reasons.sql").read_text()
    for driver in [*DRIVER_FEATURES, TEXT_DRIVER, OTHER_DRIVER]:
        assert f"when '{driver}' then" in phrases, f"no phrase for {driver}"


def test_drivers_partition_the_encoded_inputs(scorer):
    scaler = scorer.scaler
    columns = driver_columns(scaler)
    assert list(columns) == list(DRIVER_FEATURES)  # every driver present, no other_features
    used = np.sort(np.concatenate(list(columns.values())))
    np.testing.assert_array_equal(used, np.arange(scaler.width))
    reference = reference_encoding(scaler)
    standard = [s.start for s in scaler.column_slices()]
    assert np.all(reference[standard] == 0.0)  # the reference is the standardised mean


def test_an_unmapped_input_is_attributed_as_other_features(caplog):
    scaler = FeatureScaler.fit(["recency_days", "shoe_size"], np.array([[1.0, 40.0], [9.0, 44.0]]))
    columns = driver_columns(scaler)
    assert list(columns) == ["recency", OTHER_DRIVER]
    assert "shoe_size" in caplog.text


def test_effects_are_the_score_change_with_the_driver_at_the_training_mean(
    scorer, customers, embeddings, effects
):
    """For drivers whose inputs feed no BG/NBD input, occluding the encoding equals scoring the
    customer with those raw features at their training mean through the public path."""
    rows = np.arange(200)
    base = effects.churn_probability[rows]
    for driver in ("returns", "recent_trend", "cohort", "cohort_standing"):
        without = _score_without(scorer, customers, embeddings, rows, [[driver]] * len(rows))
        effect = effects.churn[rows, effects.drivers.index(driver)]
        np.testing.assert_allclose(base - without, effect, atol=1e-5)


def test_removing_the_top_driver_moves_the_score_more_than_a_random_one(
    scorer, customers, embeddings, effects
):
    """Faithfulness: the driver ranked first by |churn effect| changes churn_probability more,
    when removed through the public scoring path, than a randomly chosen other driver, on
    average and for most customers; the same for the top three against three random ones."""
    rng = np.random.default_rng(SEED)
    rows = np.arange(min(400, customers.num_rows))
    order = np.argsort(-np.abs(effects.churn[rows]), axis=1, kind="stable")
    drivers = np.asarray(effects.drivers)
    base = effects.churn_probability[rows]
    for k in (1, 3):
        top = [list(drivers[order[i, :k]]) for i in range(len(rows))]
        random = [
            list(drivers[rng.choice(order[i, k:], k, replace=False)]) for i in range(len(rows))
        ]
        moved_top = np.abs(base - _score_without(scorer, customers, embeddings, rows, top))
        moved_random = np.abs(base - _score_without(scorer, customers, embeddings, rows, random))
        assert moved_top.mean() > 1.5 * moved_random.mean(), k
        assert np.mean(moved_top > moved_random) > 0.6, k


def test_driver_effects_add_up_to_the_effect_of_occluding_them_all(
    scorer, customers, embeddings, effects
):
    """The head is non-linear, so single-driver effects need not sum to the joint effect; they
    must agree with it in sign and size for most customers."""
    scaler = scorer.scaler
    encoded = scaler.transform(scorer._numeric(customers))
    everything = np.concatenate(list(driver_columns(scaler).values()))
    head = Head(scorer.model, scorer.device, scorer.config.clv_scale)
    joint = head.scores(
        torch.from_numpy(embeddings), occlude(encoded, everything, reference_encoding(scaler))
    )
    numeric = [i for i, d in enumerate(effects.drivers) if d != TEXT_DRIVER]
    for output, single in (("churn_probability", effects.churn), ("predicted_clv", effects.clv)):
        total = getattr(effects, output) - joint[output]
        summed = single[:, numeric].sum(axis=1)
        assert np.corrcoef(summed, total)[0, 1] > 0.8, output
        assert np.mean(np.sign(summed) == np.sign(total)) > 0.8, output


def test_a_text_model_attributes_the_whole_text_against_the_empty_text(
    scorer, customers, embeddings, effects
):
    assert effects.drivers[-1] == TEXT_DRIVER
    head = Head(scorer.model, scorer.device, scorer.config.clv_scale)
    encoded = scorer.scaler.transform(scorer._numeric(customers))
    empty = torch.from_numpy(np.repeat(scorer.embed([""]), customers.num_rows, axis=0))
    without = head.scores(empty, encoded)["predicted_clv"]
    np.testing.assert_array_equal(effects.clv[:, -1], effects.predicted_clv - without)


def test_attributions_do_not_depend_on_the_other_rows(scorer, customers, embeddings, effects):
    for row in (0, 17, customers.num_rows - 1):
        alone = scorer.driver_effects(embeddings[row : row + 1], customers.slice(row, 1))
        np.testing.assert_array_equal(alone.churn[0], effects.churn[row])
        np.testing.assert_array_equal(alone.clv[0], effects.clv[row])


def test_the_udf_equals_the_python_function_and_handles_nulls(
    small_warehouse, tiny_artifacts, scorer, effects
):
    con = duckdb.connect(str(small_warehouse.db_path), read_only=True)
    register(con, tiny_artifacts, device="cpu")
    names = scorer.feature_names
    features = "struct_pack(" + ", ".join(f"{n} := {n}" for n in names) + ")"
    rows = con.execute(
        f"select clv_attributions(clv_embed(behaviour_text), {features}) "
        f"from customer_features order by customer_id"
    ).fetchall()
    assert [d["driver"] for d in rows[0][0]] == effects.drivers
    np.testing.assert_array_equal([[d["churn_effect"] for d in r[0]] for r in rows], effects.churn)
    np.testing.assert_array_equal([[d["clv_effect"] for d in r[0]] for r in rows], effects.clv)
    nan_features = features.replace("recency_days := recency_days", "recency_days := 'nan'::double")
    null_struct, nan_feature = con.execute(
        f"""
        select
            clv_attributions(clv_embed(behaviour_text), case when false then {features} end),
            clv_attributions(clv_embed(behaviour_text), {nan_features})
        from customer_features limit 1
        """
    ).fetchone()
    assert null_struct is None
    assert all(np.isfinite(d["churn_effect"]) for d in nan_feature)
    with pytest.raises(duckdb.Error, match="NULL embedding"):
        con.execute(
            f"select clv_attributions(null, {features}) from customer_features limit 1"
        ).fetchall()


def test_effects_to_arrow_masks_null_rows():
    from python_udfs.reasons import DriverEffects

    effects = DriverEffects(
        ["recency", "spend"], np.array([[0.1, 0.2], [0.3, 0.4]]), np.zeros((2, 2)),
        np.zeros(2), np.zeros(2),
    )  # fmt: skip
    lists = effects_to_arrow(effects, [False, True]).to_pylist()
    assert lists[1] is None
    assert lists[0] == [
        {"driver": "recency", "churn_effect": 0.1, "clv_effect": 0.0},
        {"driver": "spend", "churn_effect": 0.2, "clv_effect": 0.0},
    ]


def _numeric_only(tiny_artifacts: Path, artifacts: Path) -> Path:
    fused, tokenizer, config = load_artifact(tiny_artifacts)
    torch.manual_seed(0)
    numeric = ClvModel(
        fused.encoder, n_numeric=FeatureScaler.from_dict(config.scaler).width,
        hidden=config.hidden, numeric_blocks=config.numeric_blocks, inputs="numeric",
    )  # fmt: skip
    numeric_config = dataclasses.replace(config, model_version="numeric-only", inputs="numeric")
    save_artifact(artifacts / "numeric-only", numeric, tokenizer, numeric_config)
    set_current(artifacts, "numeric-only")
    return artifacts


def test_a_numeric_only_model_has_no_text_driver(tiny_artifacts, customers, tmp_path):
    scorer = Scorer(_numeric_only(tiny_artifacts, tmp_path / "artifacts"), device="cpu")
    effects = scorer.driver_effects(None, customers.slice(0, 50))
    assert effects.drivers == list(DRIVER_FEATURES)
    assert effects.churn.shape == (50, len(DRIVER_FEATURES))


@pytest.fixture(scope="module")
def reasons_shop(small_warehouse, tiny_artifacts, tmp_path_factory):
    work = tmp_path_factory.mktemp("reasons_shop")
    raw = small_warehouse.db_path.parent / "raw"

    def build(*flags, extra_vars=None):
        run = run_dbt(
            work, raw, "parquet", {**SHOP_VARS, **(extra_vars or {})}, ("build", *flags),
            model_path=tiny_artifacts,
        )  # fmt: skip
        assert run.returncode == 0, run.output[-5000:]
        return run

    return build


def test_dbt_build_gives_every_scored_customer_its_reasons(reasons_shop):
    run = reasons_shop()
    customers = run.scalar("select count(*) from customer_scores")
    assert (
        run.scalar("select count(distinct customer_id) from customer_driver_effects") == customers
    )
    # Up to three reasons per score, fewer only when fewer drivers pass the threshold.
    short = run.query(
        f"""
        with expected as (
            select
                customer_id,
                least(3, count(*) filter (where churn_effect >= {MIN_CHURN_EFFECT})) as churn,
                least(3, count(*) filter (where abs(clv_effect) >= {MIN_CLV_EFFECT})) as clv
            from customer_driver_effects group by customer_id
        ),
        found as (
            select
                customer_id,
                count(*) filter (where reason_for = 'churn') as churn,
                count(*) filter (where reason_for = 'clv') as clv
            from customer_score_reasons group by customer_id
        )
        select expected.customer_id
        from expected left join found using (customer_id)
        where coalesce(found.churn, 0) != expected.churn or coalesce(found.clv, 0) != expected.clv
        """
    )
    assert short == []
    assert run.scalar("select count(*) from customer_score_reasons where trim(phrase) = ''") == 0
    with_three = run.scalar(
        "select count(*) from (select customer_id from customer_score_reasons "
        "where reason_for = 'churn' group by customer_id having count(*) = 3)"
    )
    assert with_three > 0.5 * customers
    # The top churn reason is the driver with the largest churn effect.
    assert (
        run.scalar(
            """
            select count(*) from customer_score_reasons as r
            where r.reason_for = 'churn' and r.reason_rank = 1 and r.effect < (
                select max(e.churn_effect) from customer_driver_effects as e
                where e.customer_id = r.customer_id)
            """
        )
        == 0
    )
    # The same day again: nobody is attributed again.
    first = run.scalar("select max(attributed_at) from customer_driver_effects")
    again = reasons_shop("--select", "customer_driver_effects", "customer_score_reasons")
    assert again.scalar("select max(attributed_at) from customer_driver_effects") == first
    assert again.scalar(
        "select count(distinct customer_id) from customer_score_reasons"
    ) == run.scalar("select count(distinct customer_id) from customer_score_reasons")


def test_integrated_gradients_agree_with_occlusion(scorer, customers, embeddings, effects):
    """Cross-check with integrated gradients (Sundararajan et al. 2017) from the same
    reference to each customer's encoded inputs, summed per driver: the two methods rank the
    drivers alike, and IG's completeness holds (its sum is the joint occlusion effect)."""
    rows = slice(0, 64)
    steps = 64
    scaler = scorer.scaler
    encoded = torch.from_numpy(scaler.transform(scorer._numeric(customers))[rows])
    reference = torch.from_numpy(reference_encoding(scaler)).expand_as(encoded)
    text = torch.from_numpy(embeddings[rows])
    gradients = torch.zeros_like(encoded)
    with torch.enable_grad():
        for alpha in (torch.arange(steps, dtype=torch.float32) + 0.5) / steps:
            point = (reference + alpha * (encoded - reference)).requires_grad_()
            _, churn = scorer.model.head_forward(text, point)
            torch.sigmoid(churn).sum().backward()
            gradients += point.grad
    attributions = ((encoded - reference) * gradients / steps).numpy()
    columns = driver_columns(scaler)
    integrated = np.column_stack([attributions[:, c].sum(axis=1) for c in columns.values()])
    occlusion = effects.churn[rows, : len(columns)]
    agreement = [
        np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1]
        for a, b in zip(integrated, occlusion, strict=True)
    ]
    assert np.mean(agreement) > 0.5
    top = np.argmax(np.abs(occlusion), axis=1)
    top_ig = np.argsort(-np.abs(integrated), axis=1)[:, :3]
    assert np.mean([t in row for t, row in zip(top, top_ig, strict=True)]) > 0.7
    with torch.no_grad():
        _, at_reference = scorer.model.head_forward(text, reference)
    joint = effects.churn_probability[rows] - torch.sigmoid(at_reference).numpy()
    np.testing.assert_allclose(attributions.sum(axis=1), joint, atol=0.01)
