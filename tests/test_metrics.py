"""Tests for training.metrics against scikit-learn / scipy and hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    mean_absolute_error,
    mean_squared_error,
    roc_auc_score,
)

from training.metrics import (
    brier,
    churn_report,
    clv_report,
    decile_mape,
    decile_means,
    expected_calibration_error,
    mae,
    normalized_gini,
    pr_auc,
    rmse,
    roc_auc,
    spearman,
    top_decile_capture,
    total_revenue_error,
)


def _clv_data(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.4, rng.lognormal(3, 1, n), 0.0)
    # Coarse predictions with many ties.
    pred = np.round(0.5 * y + rng.lognormal(2, 1, n), -1)
    return y, pred


def _kaggle_gini(actual: np.ndarray, pred: np.ndarray) -> float:
    order = np.argsort(-pred, kind="stable")
    a = actual[order]
    n = a.size
    return float(np.cumsum(a).sum() / a.sum() / n - (n + 1) / (2 * n))


def test_gini_matches_reference_without_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.lognormal(size=300)
    pred = y + rng.normal(size=300)
    expected = _kaggle_gini(y, pred) / _kaggle_gini(y, y)
    assert normalized_gini(y, pred) == pytest.approx(expected, rel=1e-12)


def test_gini_ties_equal_average_over_tie_orderings() -> None:
    y = np.array([5.0, 0.0, 3.0, 1.0, 0.0, 7.0, 2.0])
    pred = np.array([2.0, 2.0, 1.0, 2.0, 0.0, 1.0, 3.0])
    groups = [np.flatnonzero(pred == v) for v in sorted(set(pred), reverse=True)]
    ginis = []
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        order = np.concatenate([np.array(p) for p in perms])
        ranked_pred = np.arange(len(order), 0, -1, dtype=float)
        strict = np.empty_like(ranked_pred)
        strict[order] = ranked_pred
        ginis.append(normalized_gini(y, strict))
    assert normalized_gini(y, pred) == pytest.approx(np.mean(ginis), rel=1e-12)


def test_gini_permutation_invariant_with_ties() -> None:
    y, pred = _clv_data()
    base = normalized_gini(y, pred)
    rng = np.random.default_rng(2)
    for _ in range(5):
        perm = rng.permutation(y.size)
        assert normalized_gini(y[perm], pred[perm]) == pytest.approx(base, abs=1e-12)
        assert top_decile_capture(y[perm], pred[perm]) == pytest.approx(
            top_decile_capture(y, pred), abs=1e-12
        )
        assert decile_mape(y[perm], pred[perm]) == pytest.approx(decile_mape(y, pred), abs=1e-12)


def test_gini_perfect_inverse_and_constant() -> None:
    y, _ = _clv_data(n=237)
    assert normalized_gini(y, y) == pytest.approx(1.0)
    assert normalized_gini(y, 3 * y + 1) == pytest.approx(1.0)
    assert normalized_gini(y, -y) < -0.5
    assert normalized_gini(y, np.full(y.size, 4.2)) == pytest.approx(0.0, abs=1e-12)
    assert top_decile_capture(y, np.zeros(y.size)) == pytest.approx(0.1, abs=1e-12)
    assert np.isnan(normalized_gini(np.ones(10), np.arange(10)))


def test_top_decile_capture_hand_example() -> None:
    y = np.arange(20, dtype=float)  # total 190
    pred = np.arange(20, dtype=float)
    assert top_decile_capture(y, pred) == pytest.approx((19 + 18) / 190)
    # n = 15 -> the top 1.5 customers: 14 + 0.5 * 13.
    assert top_decile_capture(y[:15], pred[:15]) == pytest.approx((14 + 6.5) / 105)


def test_decile_mape_hand_examples() -> None:
    pred = np.arange(1, 21, dtype=float)
    assert decile_mape(2 * pred, pred) == pytest.approx(0.5)
    actual, predicted = decile_means(2 * pred, pred)
    np.testing.assert_allclose(predicted, [19.5, 17.5, 15.5, 13.5, 11.5, 9.5, 7.5, 5.5, 3.5, 1.5])
    np.testing.assert_allclose(actual, 2 * predicted)
    # Deciles with zero actual mean are excluded: bottom half has no revenue.
    y = np.where(pred > 10, pred, 0.0)
    assert decile_mape(y, pred) == pytest.approx(0.0)
    assert np.isnan(decile_mape(np.zeros(20), pred))


def test_regression_metrics_match_sklearn_and_scipy() -> None:
    y, pred = _clv_data()
    assert mae(y, pred) == pytest.approx(mean_absolute_error(y, pred))
    assert rmse(y, pred) == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    assert spearman(y, pred) == pytest.approx(spearmanr(y, pred).statistic, rel=1e-10)
    assert total_revenue_error(y, pred) == pytest.approx((pred.sum() - y.sum()) / y.sum())
    assert np.isnan(spearman(y, np.ones_like(y)))


def _churn_data(n: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip(np.round(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, n), 1), 0, 1)  # many ties
    return y, p


def test_churn_metrics_match_sklearn() -> None:
    y, p = _churn_data()
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert pr_auc(y, p) == pytest.approx(average_precision_score(y, p), rel=1e-12)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    rng = np.random.default_rng(4)
    q = rng.random(y.size)
    assert roc_auc(y, q) == pytest.approx(roc_auc_score(y, q), rel=1e-12)
    assert pr_auc(y, q) == pytest.approx(average_precision_score(y, q), rel=1e-12)
    assert np.isnan(roc_auc(np.ones(5), q[:5]))


def test_ece_hand_computed() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.12, 0.18, 0.7, 0.75, 0.95])
    # bin 1: mean p 0.4/3, mean y 1/3 -> |gap| 0.2, weight 3/6
    # bin 7: mean p 0.725, mean y 0.5 -> 0.225, weight 2/6
    # bin 9: |0.95 - 1| = 0.05, weight 1/6
    expected = 0.5 * 0.2 + 2 / 6 * 0.225 + 1 / 6 * 0.05
    assert expected_calibration_error(y, p) == pytest.approx(expected)
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)
    assert expected_calibration_error([0, 1], [0.5, 0.5], n_bins=1) == pytest.approx(0.0)


def test_reports() -> None:
    y, pred = _clv_data()
    report = clv_report(y, pred)
    assert set(report) == {
        "normalized_gini",
        "spearman",
        "mae",
        "rmse",
        "decile_mape",
        "top_decile_capture",
        "total_revenue_error",
    }
    assert all(isinstance(v, float) and np.isfinite(v) for v in report.values())
    labels, probs = _churn_data()
    churn = churn_report(labels, probs)
    assert {"roc_auc", "pr_auc", "brier", "ece"} <= set(churn)
    assert churn["base_rate"] == pytest.approx(labels.mean())


def test_input_validation() -> None:
    with pytest.raises(ValueError):
        mae([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError):
        expected_calibration_error([0, 1], [0.1, 1.2])
