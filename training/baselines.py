"""Classical CLV / churn baselines: BG/NBD + Gamma-Gamma and a gradient-boosted model.

Probabilistic models (own implementations, no ``lifetimes`` dependency):

* BG/NBD -- Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative
  to the Pareto/NBD Model", Marketing Science 24(2). Per customer: ``x`` repeat purchases
  (purchases after the first one; with daily granularity, distinct purchase days - 1),
  ``t_x`` time of the last purchase measured from the first purchase (0 if ``x == 0``) and
  ``T`` time from the first purchase to the end of the calibration period. Any time unit
  works as long as ``t_x``, ``T`` and forecast horizons ``t`` share it (weeks in the papers).
* Gamma-Gamma spend -- Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for
  Customer Base Analysis", JMR 42(4); note "The Gamma-Gamma Model of Monetary Value" (2013).
  Fitted on customers with ``x > 0`` repeat purchases and their mean repeat-transaction value.

Maximum likelihood uses ``scipy.optimize`` on log-parameters with ``gammaln`` / ``logaddexp``
for numerical stability. Array arguments are 1-D ``[N]`` (one entry per customer) and may be
broadcast against scalars.

Gradient-boosted baseline: scikit-learn ``HistGradientBoostingRegressor`` (Poisson loss on raw
revenue) and ``HistGradientBoostingClassifier`` (churn) on a numeric feature matrix, with early
stopping and a small grid (learning rate, leaves, L2, minimum leaf size) chosen by internal
validation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import gammaln

from python_udfs.features import (  # the closed forms live with the scorer; re-exported here
    bgnbd_expected_purchases,
    bgnbd_p_alive,
    bgnbd_p_no_purchase,
    gamma_gamma_expected_value,
)

__all__ = [
    "BgNbdParams",
    "GammaGammaParams",
    "GbmBaseline",
    "bgnbd_expected_purchases",
    "bgnbd_gg_clv",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
    "bgnbd_p_no_purchase",
    "calibration_summary",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_gbm",
    "gamma_gamma_expected_value",
    "gamma_gamma_log_likelihood",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Calibration summary
# --------------------------------------------------------------------------------------------


class RfmSummary(NamedTuple):
    """Per-customer calibration summary (all arrays ``[N]``, sorted by customer id).

    Attributes:
        customer_id: customer identifiers.
        x: repeat purchases = distinct purchase days - 1.
        t_x: last purchase day - first purchase day, in ``time_unit_days`` units.
        T: calibration end - first purchase day, in ``time_unit_days`` units.
        mean_value: mean spend per repeat purchase day (first day excluded, as in the
            Gamma-Gamma papers and ``lifetimes``); ``nan`` where ``x == 0``.
    """

    customer_id: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    mean_value: np.ndarray


def calibration_summary(
    customer_id: ArrayLike,
    day: ArrayLike,
    amount: ArrayLike,
    calibration_end: np.datetime64 | str,
    time_unit_days: float = 7.0,
) -> RfmSummary:
    """Build the BG/NBD / Gamma-Gamma inputs from a transaction log.

    Transactions after ``calibration_end`` are dropped; several transactions on one day count
    as one purchase (their amounts are summed).

    Args:
        customer_id: ``[M]`` customer id per transaction (any sortable dtype).
        day: ``[M]`` transaction dates (``datetime64`` or ISO ``YYYY-MM-DD`` strings).
        amount: ``[M]`` transaction values.
        calibration_end: last day (inclusive) of the calibration period.
        time_unit_days: length of the time unit in days (7 = weeks).

    Returns:
        :class:`RfmSummary` over customers with at least one calibration transaction.
    """
    ids = np.asarray(customer_id)
    days = np.asarray(day).astype("datetime64[D]")
    values = np.asarray(amount, dtype=np.float64)
    end = np.asarray(calibration_end).astype("datetime64[D]")[()]  # the scalar, as for `days`
    keep = days <= end
    ids, days, values = ids[keep], days[keep], values[keep]
    day_num = days.astype(np.int64)
    if ids.size == 0:
        empty = np.zeros(0, dtype=np.float64)
        return RfmSummary(ids, empty, empty.copy(), empty.copy(), empty.copy())

    # Collapse to (customer, day) purchases.
    order = np.lexsort((day_num, ids))
    ids, day_num, values = ids[order], day_num[order], values[order]
    new_purchase = np.r_[True, (ids[1:] != ids[:-1]) | (day_num[1:] != day_num[:-1])]
    starts = np.flatnonzero(new_purchase)
    p_ids = ids[starts]
    p_day = day_num[starts]
    p_value = np.add.reduceat(values, starts)

    new_customer = np.r_[True, p_ids[1:] != p_ids[:-1]]
    c_starts = np.flatnonzero(new_customer)
    c_ends = np.r_[c_starts[1:], p_ids.size] - 1
    n_days = c_ends - c_starts + 1
    first = p_day[c_starts]
    last = p_day[c_ends]
    total = np.add.reduceat(p_value, c_starts)
    repeat_total = total - p_value[c_starts]
    x = (n_days - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_value = np.where(x > 0, repeat_total / np.maximum(x, 1.0), np.nan)
    end_num = end.astype(np.int64)
    return RfmSummary(
        customer_id=p_ids[c_starts],
        x=x,
        t_x=(last - first) / time_unit_days,
        T=(end_num - first) / time_unit_days,
        mean_value=mean_value,
    )


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


class BgNbdParams(NamedTuple):
    """BG/NBD parameters: purchase-rate Gamma(r, alpha), dropout Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


def _as_float_arrays(*arrays: ArrayLike) -> list[np.ndarray]:
    return [np.asarray(arr, dtype=np.float64) for arr in arrays]


def _check_rft(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if np.any(x < 0) or np.any(t_x < 0) or np.any(T < 0):
        raise ValueError("x, t_x and T must be non-negative")
    if np.any(t_x > T + 1e-9):
        raise ValueError("t_x must not exceed T")


def bgnbd_log_likelihood(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6).

    Args:
        params: model parameters.
        x, t_x, T: ``[N]`` repeat purchases, recency and age.

    Returns:
        ``[N]`` log-likelihoods.
    """
    r, alpha, a, b = params
    x, t_x, T = _as_float_arrays(x, t_x, T)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    has_repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.log(a) - np.log(b + x - 1.0) - (r + x) * np.log(alpha + t_x)
    a4 = np.where(has_repeat, a4, -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _warn_if_degenerate(model: str, log_params: np.ndarray) -> None:
    """Log a warning when an estimate ran off towards 0 or infinity (|log| > 12)."""
    if np.any(np.abs(log_params) > 12.0):
        logger.warning(
            "%s estimates near the boundary (log-params %s); consider penalizer > 0",
            model,
            np.round(log_params, 2).tolist(),
        )


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the stacked columns and their multiplicities (speeds up likelihoods)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, k] for k in range(unique.shape[1])], counts.astype(np.float64)


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    init: BgNbdParams | None = None,
    penalizer: float = 0.0,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD fit.

    Minimises the mean negative log-likelihood over ``theta = log(r, alpha, a, b)`` with
    L-BFGS-B, then polishes with Nelder-Mead. ``penalizer > 0`` adds
    ``penalizer * sum(theta**2)`` (shrinks parameters towards 1), which keeps degenerate data
    (e.g. almost no repeat buyers) away from the boundary; 0 gives the plain MLE.

    Args:
        x: ``[N]`` repeat purchases (purchase count - 1).
        t_x: ``[N]`` time of last purchase since the first (0 when ``x == 0``).
        T: ``[N]`` time since the first purchase to the end of calibration.
        init: optional starting values (default all 1).
        penalizer: L2 penalty weight on the log-parameters.

    Returns:
        Fitted :class:`BgNbdParams`.
    """
    x, t_x, T = _as_float_arrays(x, t_x, T)
    x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
    _check_rft(x, t_x, T)
    (ux, ut, uT), weight = _compress(x, t_x, T)
    n = weight.sum()

    def objective(log_params: np.ndarray) -> float:
        params = BgNbdParams(*np.exp(np.clip(log_params, -30.0, 30.0)))
        ll = bgnbd_log_likelihood(params, ux, ut, uT)
        value = -np.dot(weight, ll) / n + penalizer * np.dot(log_params, log_params)
        return float(value) if np.isfinite(value) else 1e100

    start = np.log(np.asarray(init if init is not None else (1.0, 1.0, 1.0, 1.0), dtype=float))
    result = minimize(objective, start, method="L-BFGS-B")
    polished = minimize(
        objective,
        result.x,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
    )
    best = polished if polished.fun <= result.fun else result
    params = BgNbdParams(*(float(v) for v in np.exp(best.x)))
    _warn_if_degenerate("BG/NBD", best.x)
    logger.info("BG/NBD fit on %d customers: %s (mean NLL %.6f)", int(n), params, best.fun)
    return params


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


class GammaGammaParams(NamedTuple):
    """Gamma-Gamma spend parameters (shape ``p`` per transaction, Gamma(q, v) on the scale)."""

    p: float
    q: float
    v: float


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: ArrayLike, mean_value: ArrayLike
) -> np.ndarray:
    """Per-customer log density of the mean spend ``zbar`` given ``x`` transactions.

    ``f(zbar | x) = Gamma(px + q) / (Gamma(px) Gamma(q)) * v**q * zbar**(px - 1) * x**(px)
    / (v + x zbar)**(px + q)``.

    Args:
        params: model parameters.
        x: ``[N]`` number of transactions behind the mean (``> 0``).
        mean_value: ``[N]`` mean transaction value (``> 0``).

    Returns:
        ``[N]`` log-likelihoods.
    """
    p, q, v = params
    x, z = _as_float_arrays(x, mean_value)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(v + x * z)
    )


def fit_gamma_gamma(
    x: ArrayLike,
    mean_value: ArrayLike,
    init: GammaGammaParams | None = None,
    penalizer: float = 0.0,
) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma fit on customers with ``x > 0`` and ``mean_value > 0``.

    Other customers (no repeat purchase, or zero / undefined mean spend) are ignored. Same
    optimiser and optional ``penalizer`` (on ``log(p, q, v)``) as :func:`fit_bgnbd`.

    Args:
        x: ``[N]`` repeat purchases.
        mean_value: ``[N]`` mean value of those purchases (``nan`` allowed where ``x == 0``).
        init: optional starting values (default all 1).
        penalizer: L2 penalty weight on the log-parameters.

    Returns:
        Fitted :class:`GammaGammaParams`.
    """
    x, z = _as_float_arrays(x, mean_value)
    x, z = x.ravel(), z.ravel()
    keep = (x > 0) & np.isfinite(z) & (z > 0)
    if not keep.any():
        raise ValueError("Gamma-Gamma needs at least one customer with x > 0 and spend > 0")
    (ux, uz), weight = _compress(x[keep], z[keep])
    n = weight.sum()

    def objective(log_params: np.ndarray) -> float:
        params = GammaGammaParams(*np.exp(np.clip(log_params, -30.0, 30.0)))
        value = -np.dot(weight, gamma_gamma_log_likelihood(params, ux, uz)) / n
        value += penalizer * np.dot(log_params, log_params)
        return float(value) if np.isfinite(value) else 1e100

    start = np.log(np.asarray(init if init is not None else (1.0, 1.0, 1.0), dtype=float))
    result = minimize(objective, start, method="L-BFGS-B")
    polished = minimize(
        objective,
        result.x,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
    )
    best = polished if polished.fun <= result.fun else result
    params = GammaGammaParams(*(float(v) for v in np.exp(best.x)))
    _warn_if_degenerate("Gamma-Gamma", best.x)
    logger.info("Gamma-Gamma fit on %d customers: %s (mean NLL %.6f)", int(n), params, best.fun)
    return params


def bgnbd_gg_clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    mean_value: ArrayLike,
) -> np.ndarray:
    """Undiscounted expected revenue in ``(T, T + t]``: E[purchases] x E[spend per purchase].

    ``x`` is the number of *repeat* purchases (distinct purchase occasions - 1) and
    ``mean_value`` the mean value of those repeat purchases, exactly as both models were
    fitted; every purchase in the forecast window counts (all are "repeat" purchases).

    Args:
        bgnbd: fitted BG/NBD parameters.
        gamma_gamma: fitted Gamma-Gamma parameters.
        t: horizon (scalar or ``[N]``), same unit as ``T``.
        x, t_x, T: ``[N]`` BG/NBD summaries.
        mean_value: ``[N]`` mean repeat-purchase value (``nan`` allowed where ``x == 0``).

    Returns:
        ``[N]`` expected revenue.
    """
    purchases = bgnbd_expected_purchases(bgnbd, t, x, t_x, T)
    spend = gamma_gamma_expected_value(gamma_gamma, x, mean_value)
    return purchases * spend


# --------------------------------------------------------------------------------------------
# Gradient-boosted baseline
# --------------------------------------------------------------------------------------------


@dataclass
class GbmBaseline:
    """Fitted gradient-boosted CLV + churn baseline.

    Attributes:
        regressor: ``HistGradientBoostingRegressor`` (Poisson loss) for revenue, or ``None``
            when all training revenue was 0 (then predicts 0).
        classifier: ``HistGradientBoostingClassifier`` for churn, or ``None`` when training
            labels had a single class (then predicts that class's rate).
        constant_churn: churn probability used when ``classifier`` is ``None``.
    """

    regressor: object | None
    classifier: object | None
    constant_churn: float = 0.0
    selection: dict | None = None

    def predict(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Predict for a ``[N, F]`` feature matrix.

        Returns:
            ``(predicted_clv [N], churn_probability [N])``.
        """
        features = np.asarray(X, dtype=np.float64)
        n = features.shape[0]
        if self.regressor is None:
            clv = np.zeros(n)
        else:
            clv = np.maximum(self.regressor.predict(features), 0.0)  # type: ignore[attr-defined]
        if self.classifier is None:
            churn = np.full(n, self.constant_churn)
        else:
            classes = list(self.classifier.classes_)  # type: ignore[attr-defined]
            proba = self.classifier.predict_proba(features)  # type: ignore[attr-defined]
            churn = proba[:, classes.index(1)]
        return clv, churn


# Candidate settings of the GBM, chosen by internal validation (learning rate, leaves, L2,
# minimum leaf size); every fit also early-stops on its own 10% validation share.
GBM_KEYS = ("learning_rate", "max_leaf_nodes", "l2_regularization", "min_samples_leaf")
GBM_GRID = tuple(
    dict(zip(GBM_KEYS, values, strict=True))
    for values in (
        (0.05, 15, 1.0, 50),
        (0.05, 31, 1.0, 20),
        (0.1, 15, 0.0, 20),
        (0.03, 31, 3.0, 100),
        (0.05, 7, 1.0, 100),
    )
)
GBM_VALIDATION_FRACTION = 0.2  # share of rows (of customers, with groups) for the selection
GBM_PATIENCE = 20  # boosting rounds without improvement before early stopping


def _gbm_models(params: dict, seed: int, max_iter: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    common = {
        **params,
        "max_iter": max_iter,
        "early_stopping": True,
        "validation_fraction": 0.1,
        "n_iter_no_change": GBM_PATIENCE,
        "random_state": seed,
    }
    return (
        HistGradientBoostingRegressor(loss="poisson", **common),
        HistGradientBoostingClassifier(**common),
    )


def _selection_mask(n: int, groups: np.ndarray | None, seed: int) -> np.ndarray:
    """True for the internal validation rows (whole groups when given)."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.random(n) < GBM_VALIDATION_FRACTION
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    return (rng.random(unique.size) < GBM_VALIDATION_FRACTION)[inverse]


def select_gbm_params(
    features: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    seed: int,
    max_iter: int,
    groups: np.ndarray | None = None,
    grid: tuple[dict, ...] = GBM_GRID,
) -> tuple[dict, dict, list[dict]]:
    """Best GBM_GRID entry for revenue (Poisson deviance) and for churn (log loss) on an
    internal validation split of the training rows; returns (revenue, churn, all scores)."""
    from sklearn.metrics import log_loss, mean_poisson_deviance

    held = _selection_mask(y.size, groups, seed)
    fit_rows = ~held
    scores = []
    for params in grid:
        regressor, classifier = _gbm_models(params, seed, max_iter)
        regressor.fit(features[fit_rows], y[fit_rows])
        classifier.fit(features[fit_rows], labels[fit_rows])
        revenue = np.maximum(regressor.predict(features[held]), 1e-9)
        churn = classifier.predict_proba(features[held])[:, 1]
        scores.append(
            {
                **params,
                "poisson_deviance": float(mean_poisson_deviance(y[held], revenue)),
                "log_loss": float(log_loss(labels[held], churn, labels=[0, 1])),
                "revenue_iterations": int(regressor.n_iter_),
                "churn_iterations": int(classifier.n_iter_),
            }
        )
    best_revenue = min(scores, key=lambda s: s["poisson_deviance"])
    best_churn = min(scores, key=lambda s: s["log_loss"])
    keys = GBM_KEYS
    return (
        {k: best_revenue[k] for k in keys},
        {k: best_churn[k] for k in keys},
        scores,
    )


def fit_gbm(
    X: ArrayLike,
    revenue: ArrayLike,
    churned: ArrayLike,
    seed: int = 0,
    max_iter: int = 500,
    groups: ArrayLike | None = None,
    grid: tuple[dict, ...] = GBM_GRID,
) -> GbmBaseline:
    """Fit the gradient-boosted baseline: scikit-learn HistGradientBoosting, tuned honestly.

    Revenue uses ``loss="poisson"`` on raw revenue: the Poisson deviance is a proper scoring
    rule for the *mean* of any non-negative target (zero-heavy, continuous revenue included)
    and its log link keeps predictions positive. Churn uses log-loss. The learning rate, leaf
    count, L2 penalty and minimum leaf size are chosen from ``grid`` on an internal validation
    share of the rows (whole customers when ``groups`` is given), separately for revenue
    (Poisson deviance) and churn (log loss); every fit early-stops on its own 10% share, and
    the chosen settings are refitted on all rows.

    Args:
        X: ``[N, F]`` numeric features (``nan`` allowed; handled natively).
        revenue: ``[N]`` future revenue, ``>= 0``.
        churned: ``[N]`` churn labels in ``{0, 1}``.
        seed: random seed.
        max_iter: maximum boosting iterations per model.
        groups: optional ``[N]`` customer ids, so one customer's rows stay on one side.
        grid: candidate settings (one entry skips the selection).

    Returns:
        :class:`GbmBaseline` (``selection`` holds the scores of every candidate).
    """
    features = np.asarray(X, dtype=np.float64)
    y = np.asarray(revenue, dtype=np.float64).ravel()
    labels = np.asarray(churned).astype(np.int64).ravel()
    if features.ndim != 2 or features.shape[0] != y.size or y.size != labels.size:
        raise ValueError("X must be [N, F] with revenue and churned of length N")
    if np.any(y < 0):
        raise ValueError("revenue must be non-negative")
    groups_arr = None if groups is None else np.asarray(groups)

    constant_churn = float(labels.mean()) if labels.size else 0.0
    two_classes = np.unique(labels).size == 2
    revenue_params = churn_params = dict(grid[0])
    scores: list[dict] = []
    if len(grid) > 1 and y.sum() > 0 and two_classes:
        revenue_params, churn_params, scores = select_gbm_params(
            features, y, labels, seed, max_iter, groups_arr, grid
        )
    regressor = None
    if y.sum() > 0:
        regressor = _gbm_models(revenue_params, seed, max_iter)[0].fit(features, y)
    classifier = None
    if two_classes:
        classifier = _gbm_models(churn_params, seed, max_iter)[1].fit(features, labels)
    logger.info(
        "GBM baseline fitted on %d rows x %d features (seed %d): revenue %s, churn %s",
        y.size,
        features.shape[1],
        seed,
        revenue_params,
        churn_params,
    )
    return GbmBaseline(
        regressor=regressor,
        classifier=classifier,
        constant_churn=constant_churn,
        selection={"revenue": revenue_params, "churn": churn_params, "candidates": scores},
    )
