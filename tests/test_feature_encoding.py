"""The numeric encoding shared by training and scoring: PLE, missing flags, BG/NBD inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from python_udfs.features import (
    BGNBD_INPUTS,
    DERIVED_FEATURES,
    BgNbdInputs,
    FeatureScaler,
    piecewise_linear,
)
from training import baselines

NAMES = ("recency_days", *BGNBD_INPUTS, "cohort_size")


def rfm_rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(1.5, n).astype(float)
    tenure = rng.uniform(10, 270, n)
    span = np.where(x > 0, rng.uniform(0, 1, n) * tenure, 0.0)
    value = np.where(x > 0, rng.gamma(2.0, 20.0, n), np.nan)
    return np.column_stack([tenure - span, x, span, tenure, value, rng.integers(1, 500, n)])


def fitted_bgnbd(rows: np.ndarray) -> BgNbdInputs:
    x, span, tenure, value = (rows[:, NAMES.index(n)] for n in BGNBD_INPUTS)
    params = baselines.fit_bgnbd(x, span / 7, tenure / 7)
    repeat = x > 0
    gg = baselines.fit_gamma_gamma(x[repeat], value[repeat])
    return BgNbdInputs(tuple(params), tuple(gg), 39.0, 13.0)


def test_bgnbd_inputs_equal_the_baseline_formulas():
    rows = rfm_rows(400)
    inputs = fitted_bgnbd(rows)
    x, span, tenure, value = (rows[:, NAMES.index(n)] for n in BGNBD_INPUTS)
    derived = inputs.compute(x, span, tenure, value)
    params = baselines.BgNbdParams(*inputs.bgnbd)
    gg = baselines.GammaGammaParams(*inputs.gamma_gamma)
    t_x, big_t = span / 7, tenure / 7
    np.testing.assert_allclose(derived[:, 0], baselines.bgnbd_p_alive(params, x, t_x, big_t))
    np.testing.assert_allclose(
        derived[:, 1], baselines.bgnbd_expected_purchases(params, 39.0, x, t_x, big_t)
    )
    np.testing.assert_allclose(
        derived[:, 2], baselines.bgnbd_p_no_purchase(params, 13.0, x, t_x, big_t)
    )
    np.testing.assert_allclose(
        derived[:, 3], baselines.bgnbd_gg_clv(params, gg, 39.0, x, t_x, big_t, value)
    )


def test_scaler_round_trips_through_json_with_identical_encodings():
    rows = rfm_rows(500)
    scaler = FeatureScaler.fit(NAMES, rows, fitted_bgnbd(rows), bins=8)
    again = FeatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    fresh = rfm_rows(50, seed=1)
    fresh[3, 0] = np.nan  # a missing feature
    fresh[4, 5] = np.inf  # a non-finite one
    np.testing.assert_array_equal(scaler.transform(fresh), again.transform(fresh))
    encoded = scaler.transform(fresh)
    assert encoded.shape == (50, scaler.width) and np.isfinite(encoded).all()
    assert scaler.all_names[-4:] == DERIVED_FEATURES
    # layout per feature: standardised value, missing flag, PLE bins
    assert encoded[3, 1] == 1.0 and encoded[2, 1] == 0.0


def test_piecewise_linear_encoding_is_monotone_and_bounded():
    edges = [0.0, 1.0, 2.0, 4.0]
    z = np.array([-1.0, 0.5, 1.0, 3.0, 9.0, np.nan])
    out = piecewise_linear(z, edges)
    np.testing.assert_allclose(
        out,
        [[0, 0, 0], [0.5, 0, 0], [1, 0, 0], [1, 1, 0.5], [1, 1, 1], [0, 0, 0]],
    )


def test_old_artifacts_without_edges_encode_as_before():
    rows = rfm_rows(100)
    d = {"names": list(NAMES), "means": [0.0] * 6, "stds": [1.0] * 6}
    scaler = FeatureScaler.from_dict(d)
    assert scaler.width == 6
    np.testing.assert_allclose(
        scaler.transform(rows),
        np.clip(np.nan_to_num(np.sign(rows) * np.log1p(np.abs(rows))), -5, 5),
        rtol=1e-6,
    )


def test_a_reordered_or_truncated_scaler_is_refused():
    rows = rfm_rows(100)
    d = FeatureScaler.fit(NAMES, rows, fitted_bgnbd(rows)).to_dict()
    d["means"] = d["means"][:-1]
    with pytest.raises(ValueError, match="inconsistent feature scaler"):
        FeatureScaler.from_dict(d)
