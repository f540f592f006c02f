"""Evaluation metrics for CLV regression and churn classification.

Standard metrics are scikit-learn / scipy (Spearman, MAE, RMSE, ROC-AUC, average precision,
Brier); the CLV-specific ones (tie-fair normalised Gini, top-decile capture, decile MAPE,
ECE) are our own, documented below.

Conventions
-----------
All inputs are 1-D array-likes of equal length ``N`` (``[N]``); outputs are Python floats.
Metrics that are undefined on degenerate input (e.g. all-equal actuals, a single class)
return ``nan`` rather than raising.

Fair ties
---------
Ranking metrics that order customers by a prediction (:func:`normalized_gini`,
:func:`decile_mape`, :func:`top_decile_capture`) treat tied predictions fairly: the result is
the *expectation over all orderings of the tied customers*. Because these metrics are linear
in the cumulative sums of the actuals, this equals replacing each customer's actual by the
mean actual of its tie group (same predicted value) before ordering, which is what we do. The
results are therefore independent of the input order. Group boundaries that fall between
customers (``N`` not divisible by 10) are handled by fractional membership: customer ``i`` in
sorted order occupies the interval ``[i, i + 1)`` of the rank axis and decile ``d`` covers
``[d N / 10, (d + 1) N / 10)``.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import spearmanr
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

logger = logging.getLogger(__name__)


def _as_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=np.float64).ravel()
    b = np.asarray(y_pred, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.shape[0]} vs {b.shape[0]}")
    if a.size == 0:
        raise ValueError("empty input")
    return a, b


def _tie_averaged_desc(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """``y_true`` ordered by descending ``y_pred``, each value replaced by its tie-group mean.

    Args:
        y_true: ``[N]`` actuals.
        y_pred: ``[N]`` scores.

    Returns:
        ``[N]`` tie-averaged actuals in descending-prediction order.
    """
    order = np.argsort(-y_pred, kind="stable")
    pred_sorted = y_pred[order]
    true_sorted = y_true[order]
    # Start index of each run of equal predictions.
    starts = np.flatnonzero(np.r_[True, pred_sorted[1:] != pred_sorted[:-1]])
    sizes = np.diff(np.r_[starts, pred_sorted.size])
    group_means = np.add.reduceat(true_sorted, starts) / sizes
    return np.repeat(group_means, sizes)


def _fractional_cumsum(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` evaluated at fractional rank positions in ``[0, N]``."""
    cum = np.r_[0.0, np.cumsum(values)]
    return np.interp(positions, np.arange(values.size + 1, dtype=np.float64), cum)


def _gini(y_true_desc: np.ndarray) -> float:
    """Un-normalised Gini of actuals already in (descending) prediction order."""
    n = y_true_desc.size
    total = y_true_desc.sum()
    if total == 0:
        return float("nan")
    lorentz = np.cumsum(y_true_desc) / total
    return float(lorentz.sum() / n - (n + 1) / (2.0 * n))


def normalized_gini(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Normalised Gini coefficient of ``y_true`` ranked by ``y_pred``.

    ``Gini(y_true ordered by y_pred) / Gini(y_true ordered by y_true)`` where
    ``Gini(a) = mean_i(L_i) - (N + 1) / (2 N)`` and ``L_i`` is the share of the total actual
    captured by the top ``i`` customers. 1 for a perfect ranking, 0 for a random / constant
    ranking, negative for an inverted one. Ties in ``y_pred`` are broken fairly (see module
    docstring), so the value does not depend on input order.

    Args:
        y_true: ``[N]`` actual values (non-negative in the CLV use case).
        y_pred: ``[N]`` predicted values / scores.

    Returns:
        The normalised Gini, or ``nan`` when the actuals are all equal or sum to 0.
    """
    a, b = _as_pair(y_true, y_pred)
    denom = _gini(np.sort(a)[::-1])
    if not np.isfinite(denom) or denom == 0:
        return float("nan")
    return _gini(_tie_averaged_desc(a, b)) / denom


def spearman(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman rank correlation (``scipy.stats.spearmanr``); ``nan`` if either is constant."""
    a, b = _as_pair(y_true, y_pred)
    if np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error (``sklearn.metrics.mean_absolute_error``)."""
    a, b = _as_pair(y_true, y_pred)
    return float(mean_absolute_error(a, b))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error (``sklearn.metrics.root_mean_squared_error``)."""
    a, b = _as_pair(y_true, y_pred)
    return float(root_mean_squared_error(a, b))


def decile_means(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean actual and mean prediction of the 10 prediction deciles.

    Customers are sorted by descending prediction and split into 10 equal-size groups
    (fractional membership at boundaries, fair ties; see module docstring).

    Args:
        y_true: ``[N]`` actuals.
        y_pred: ``[N]`` predictions.

    Returns:
        ``(actual_means, predicted_means)``, each ``[10]``, decile 0 = highest predictions.
    """
    a, b = _as_pair(y_true, y_pred)
    n = a.size
    edges = np.arange(11, dtype=np.float64) * n / 10.0
    true_desc = _tie_averaged_desc(a, b)
    pred_desc = np.sort(b)[::-1]
    width = n / 10.0
    actual = np.diff(_fractional_cumsum(true_desc, edges)) / width
    predicted = np.diff(_fractional_cumsum(pred_desc, edges)) / width
    return actual, predicted


def decile_mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Decile-level MAPE (Wang et al. 2019): calibration of the prediction deciles.

    ``mean_d |pred_mean_d - actual_mean_d| / actual_mean_d`` over the 10 prediction deciles
    of :func:`decile_means`. Deciles whose actual mean is 0 have no defined relative error and
    are **excluded** from the average (common when most customers have zero future revenue);
    if every decile is excluded the result is ``nan``.

    Args:
        y_true: ``[N]`` actuals (non-negative).
        y_pred: ``[N]`` predictions.

    Returns:
        MAPE as a fraction (0.1 = 10 %).
    """
    actual, predicted = decile_means(y_true, y_pred)
    keep = actual != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs(predicted[keep] - actual[keep]) / np.abs(actual[keep])))


def top_decile_capture(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of the total actual revenue earned by the top 10 % of customers by prediction.

    Uses exactly ``N / 10`` customers (fractional last member) and fair ties, so a constant
    predictor scores exactly 0.1.

    Args:
        y_true: ``[N]`` actuals (non-negative).
        y_pred: ``[N]`` predictions.

    Returns:
        Captured share in ``[0, 1]``, or ``nan`` if the actuals sum to 0.
    """
    a, b = _as_pair(y_true, y_pred)
    total = a.sum()
    if total == 0:
        return float("nan")
    top = _fractional_cumsum(_tie_averaged_desc(a, b), np.array([a.size / 10.0]))[0]
    return float(top / total)


def total_revenue_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Signed relative error of the totals, ``(sum(pred) - sum(true)) / sum(true)``.

    Positive means over-forecast. ``nan`` when the actual total is 0.
    """
    a, b = _as_pair(y_true, y_pred)
    total = a.sum()
    if total == 0:
        return float("nan")
    return float((b.sum() - total) / total)


def _binary_pair(y: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = _as_pair(y, p)
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0/1")
    return labels, scores


def roc_auc(y: ArrayLike, p: ArrayLike) -> float:
    """ROC-AUC (``sklearn.metrics.roc_auc_score``); ``nan`` if only one class is present."""
    labels, scores = _binary_pair(y, p)
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def pr_auc(y: ArrayLike, p: ArrayLike) -> float:
    """Average precision (``sklearn.metrics.average_precision_score``); ``nan`` without
    positives."""
    labels, scores = _binary_pair(y, p)
    if labels.sum() == 0:
        return float("nan")
    return float(average_precision_score(labels, scores))


def brier(y: ArrayLike, p: ArrayLike) -> float:
    """Brier score (``sklearn.metrics.brier_score_loss``)."""
    labels, probs = _binary_pair(y, p)
    return float(brier_score_loss(labels, probs))


def expected_calibration_error(y: ArrayLike, p: ArrayLike, n_bins: int = 10) -> float:
    """Expected calibration error with equal-width probability bins.

    Bin ``k`` is ``[k / n_bins, (k + 1) / n_bins)`` (the last bin also holds ``p == 1``);
    ``ECE = sum_k (n_k / N) * |mean(p in k) - mean(y in k)|`` over non-empty bins.

    Args:
        y: ``[N]`` binary labels.
        p: ``[N]`` predicted probabilities in ``[0, 1]``.
        n_bins: number of bins.

    Returns:
        ECE in ``[0, 1]``.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    labels, probs = _binary_pair(y, p)
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    bins = np.minimum((probs * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins).astype(np.float64)
    sum_p = np.bincount(bins, weights=probs, minlength=n_bins)
    sum_y = np.bincount(bins, weights=labels, minlength=n_bins)
    nonempty = counts > 0
    gaps = np.abs(sum_p[nonempty] - sum_y[nonempty]) / counts[nonempty]
    return float(np.sum(counts[nonempty] / labels.size * gaps))


def clv_report(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """All CLV metrics for ``[N]`` actual vs predicted revenue.

    Returns:
        Dict with keys ``normalized_gini``, ``spearman``, ``mae``, ``rmse``, ``decile_mape``,
        ``top_decile_capture``, ``total_revenue_error``.
    """
    return {
        "normalized_gini": normalized_gini(y_true, y_pred),
        "spearman": spearman(y_true, y_pred),
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "decile_mape": decile_mape(y_true, y_pred),
        "top_decile_capture": top_decile_capture(y_true, y_pred),
        "total_revenue_error": total_revenue_error(y_true, y_pred),
    }


def churn_report(y: ArrayLike, p: ArrayLike) -> dict[str, float]:
    """All churn metrics for ``[N]`` labels and predicted churn probabilities.

    Returns:
        Dict with keys ``roc_auc``, ``pr_auc``, ``brier``, ``ece``, ``base_rate``
        (observed churn rate) and ``mean_predicted`` (mean predicted probability).
    """
    labels, probs = _binary_pair(y, p)
    return {
        "roc_auc": roc_auc(labels, probs),
        "pr_auc": pr_auc(labels, probs),
        "brier": brier(labels, probs),
        "ece": expected_calibration_error(labels, probs),
        "base_rate": float(labels.mean()),
        "mean_predicted": float(probs.mean()),
    }
