"""Numeric feature preparation shared by training and scoring (one definition, no skew).

Training fits a :class:`FeatureScaler` on its rows and stores ``to_dict()`` in the artifact's
config.json; scoring rebuilds it with ``from_dict`` and calls the same ``transform``. Per
declared feature (in the warehouse's order) plus the BG/NBD-derived inputs:

* ``signed_log1p`` then standardisation (mean / std of the training rows), clipped;
* a piecewise-linear encoding (PLE, Gorishniy et al. 2022) on quantile edges of the training
  rows: one value in [0, 1] per bin, so the tower can bend each feature's effect freely;
* a missing-value indicator (NULL / NaN / infinite -> 1, and 0 in the other columns).

BG/NBD-derived inputs (Fader, Hardie & Lee 2005) are computed from the raw features with BG/NBD
and Gamma-Gamma parameters fitted on the training rows: P(alive), expected purchases in the
revenue horizon, P(no purchase in the churn horizon) and the BG/NBD x Gamma-Gamma expected
revenue. The formulas live here (numpy + scipy only), so scoring needs no training code;
``training.baselines`` fits the parameters and reuses these functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, hyp2f1

DAYS_PER_WEEK = 7.0
CLIP_Z = 5.0  # standardised values beyond +-5 sd are clipped (robust to one huge order)
DEFAULT_BINS = 8  # quantile bins of the piecewise-linear encoding
# Raw features the BG/NBD inputs are computed from (x, t_x, T in days, mean repeat spend).
BGNBD_INPUTS = (
    "repeat_purchase_days",
    "purchase_span_days",
    "tenure_days",
    "repeat_purchase_value_mean",
)
DERIVED_FEATURES = (
    "bgnbd_p_alive",
    "bgnbd_expected_purchases",
    "bgnbd_p_no_purchase",
    "bgnbd_gg_expected_revenue",
)


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """sign(x) * log1p(|x|): tames the heavy tails of counts and money, keeps the order."""
    return np.sign(x) * np.log1p(np.abs(x))


# --------------------------------------------------------------------------------------------
# BG/NBD and Gamma-Gamma closed forms (fitting is in training.baselines)
# --------------------------------------------------------------------------------------------


def _floats(*arrays: ArrayLike) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def bgnbd_p_alive(
    params: Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Probability the customer is still active at ``T`` (FHL 2005, eq. 11 / appendix).

    ``1 / (1 + 1{x>0} * a / (b + x - 1) * ((alpha + T) / (alpha + t_x))**(r + x))``.
    ``params`` = (r, alpha, a, b); x, t_x, T are ``[N]`` customer summaries.
    """
    r, alpha, a, b = params
    x, t_x, T = np.broadcast_arrays(*_floats(x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = (
            np.log(a) - np.log(b + x - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(x > 0, expit(-log_ratio), 1.0)


def bgnbd_expected_purchases(
    params: Sequence[float], t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Expected number of purchases in ``(T, T + t]`` given the history (FHL 2005, eq. 10).

    ``E[Y(t) | x, t_x, T] = (a + b + x - 1) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t))
    ** (r + x) * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))] * P_alive``.

    The hypergeometric term is evaluated after Euler's transformation,
    ``(1 - z)**(r + x) 2F1(r + x, b + x; c; z) = (1 - z)**(a - 1) 2F1(c - r - x, a - 1; c; z)``
    with ``c = a + b + x - 1`` and ``1 - z = (alpha + T) / (alpha + T + t)``, which stays well
    conditioned for heavy buyers. Undefined at exactly ``a == 1``.
    """
    r, alpha, a, b = params
    t, x, t_x, T = np.broadcast_arrays(*_floats(t, x, t_x, T))
    c = a + b + x - 1.0
    one_minus_z = (alpha + T) / (alpha + T + t)
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        tail = one_minus_z ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        expected = c / (a - 1.0) * (1.0 - tail)
    # Far out in the parameter space (a and b huge: almost no dropout, as fitted on a shop
    # whose customers nearly all return) 2F1 overflows. The BG/NBD then tends to the NBD, whose
    # expected count for a living customer is (r + x) t / (alpha + T): use that limit.
    nbd = (r + x) * t / (alpha + T)
    expected = np.where(np.isfinite(expected), expected, nbd)
    return expected * bgnbd_p_alive(params, x, t_x, T)


def bgnbd_p_no_purchase(
    params: Sequence[float], t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Probability of no purchase in ``(T, T + t]`` -- the BG/NBD churn probability.

    ``(1 - P_alive) + P_alive * ((alpha + T) / (alpha + T + t))**(r + x)``.
    """
    r, alpha, _, _ = params
    t, x, t_x, T = np.broadcast_arrays(*_floats(t, x, t_x, T))
    alive = bgnbd_p_alive(params, x, t_x, T)
    quiet = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    return (1.0 - alive) + alive * quiet


def gamma_gamma_expected_value(
    params: Sequence[float], x: ArrayLike, mean_value: ArrayLike
) -> np.ndarray:
    """Posterior mean transaction value ``E[Z | x, zbar] = p (v + x zbar) / (p x + q - 1)``.

    For ``x == 0`` (``mean_value`` ignored, may be ``nan``) this is the population mean
    ``p v / (q - 1)``. ``params`` = (p, q, v); requires ``q > 1``.
    """
    p, q, v = params
    if q <= 1.0:
        raise ValueError(f"Gamma-Gamma mean is infinite for q <= 1 (q={q})")
    x, z = np.broadcast_arrays(*_floats(x, mean_value))
    xz = np.where(x > 0, x * np.nan_to_num(z), 0.0)
    return p * (v + xz) / (p * x + q - 1.0)


@dataclass(frozen=True)
class BgNbdInputs:
    """Fitted BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) parameters plus horizons (weeks),
    enough to compute DERIVED_FEATURES from the raw BGNBD_INPUTS columns."""

    bgnbd: tuple[float, float, float, float]
    gamma_gamma: tuple[float, float, float] | None
    horizon_weeks: float
    churn_horizon_weeks: float

    def compute(
        self,
        x_days: np.ndarray,
        span_days: np.ndarray,
        tenure_days: np.ndarray,
        value: np.ndarray,
    ) -> np.ndarray:
        """[N] raw columns -> [N, 4] derived features (NaN where an input is missing)."""
        x = np.asarray(x_days, dtype=np.float64)
        big_t = np.asarray(tenure_days, dtype=np.float64) / DAYS_PER_WEEK
        t_x = np.minimum(np.asarray(span_days, dtype=np.float64) / DAYS_PER_WEEK, big_t)
        ok = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(big_t) & (x >= 0) & (t_x >= 0)
        x, t_x, big_t = (np.where(ok, a, 0.0) for a in (x, t_x, big_t))
        with np.errstate(all="ignore"):
            alive = bgnbd_p_alive(self.bgnbd, x, t_x, big_t)
            purchases = bgnbd_expected_purchases(self.bgnbd, self.horizon_weeks, x, t_x, big_t)
            quiet = bgnbd_p_no_purchase(self.bgnbd, self.churn_horizon_weeks, x, t_x, big_t)
            if self.gamma_gamma is not None:
                spend = gamma_gamma_expected_value(self.gamma_gamma, x, value)
                revenue = purchases * spend
            else:
                revenue = np.full_like(purchases, np.nan)
        out = np.column_stack([alive, purchases, quiet, revenue])
        out[~ok] = np.nan
        return np.where(np.isfinite(out), out, np.nan)

    def to_dict(self) -> dict:
        return {
            "bgnbd": list(self.bgnbd),
            "gamma_gamma": list(self.gamma_gamma) if self.gamma_gamma else None,
            "horizon_weeks": self.horizon_weeks,
            "churn_horizon_weeks": self.churn_horizon_weeks,
        }

    @classmethod
    def from_dict(cls, d: dict) -> BgNbdInputs:
        gg = d.get("gamma_gamma")
        r, alpha, a, b = _parameters(d["bgnbd"], "bgnbd (r, alpha, a, b)")
        gamma_gamma = _parameters(gg, "gamma_gamma (p, q, v)") if gg else None
        return cls(
            (r, alpha, a, b),
            (gamma_gamma[0], gamma_gamma[1], gamma_gamma[2]) if gamma_gamma else None,
            float(d["horizon_weeks"]),
            float(d["churn_horizon_weeks"]),
        )


def _parameters(values: list, name: str) -> list[float]:
    """The parameters `values` as floats; a wrong count names the parameter set."""
    wanted = name.count(",") + 1
    if len(values) != wanted:
        raise ValueError(f"{name} needs {wanted} numbers, got {len(values)}: {values!r}")
    return [float(v) for v in values]


# --------------------------------------------------------------------------------------------
# The scaler / encoder
# --------------------------------------------------------------------------------------------


def _quantile_edges(z: np.ndarray, bins: int) -> list[float]:
    """Distinct quantile edges of the finite values of one column (empty when < 2)."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return []
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)))
    return [float(e) for e in edges] if edges.size >= 2 else []


def piecewise_linear(z: np.ndarray, edges: list[float]) -> np.ndarray:
    """[N] values -> [N, len(edges) - 1] PLE: bin k is clip((z - e_k) / (e_k+1 - e_k), 0, 1)."""
    if len(edges) < 2:
        return np.zeros((z.shape[0], 0))
    e = np.asarray(edges)
    out = np.clip((z[:, None] - e[:-1]) / (e[1:] - e[:-1]), 0.0, 1.0)
    return np.where(np.isfinite(z)[:, None], out, 0.0)


@dataclass(frozen=True)
class FeatureScaler:
    """Fitted numeric encoding: standardised signed_log1p, PLE and missing flags per feature.

    ``names`` are the declared raw features (the artifact's feature schema, in order);
    ``derived`` the BG/NBD inputs appended to them when ``bgnbd`` is set. ``means``, ``stds`` and
    ``edges`` cover names + derived. An artifact without ``edges`` (older format) encodes only
    the standardised values, exactly as before.
    """

    names: tuple[str, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]
    edges: tuple[tuple[float, ...], ...] | None = None
    bgnbd: BgNbdInputs | None = None
    derived: tuple[str, ...] = field(default=())

    @classmethod
    def fit(
        cls,
        names: list[str] | tuple[str, ...],
        x: np.ndarray,
        bgnbd: BgNbdInputs | None = None,
        bins: int = DEFAULT_BINS,
    ) -> FeatureScaler:
        """x: [N, F] raw features (NaN for missing); `bgnbd` adds the derived inputs."""
        derived = DERIVED_FEATURES if bgnbd is not None else ()
        probe = cls(tuple(names), (), (), None, bgnbd, derived)
        z = probe._log_columns(x)
        with warnings.catch_warnings():  # an all-missing column (e.g. no customers table)
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nan_to_num(np.nanmean(z, axis=0), nan=0.0)
            stds = np.nan_to_num(np.nanstd(z, axis=0), nan=1.0)
        stds = np.where(stds > 1e-6, stds, 1.0)
        edges = tuple(tuple(_quantile_edges(z[:, j], bins)) for j in range(z.shape[1]))
        return cls(
            tuple(names),
            tuple(map(float, means)),
            tuple(map(float, stds)),
            edges if bins > 0 else None,
            bgnbd,
            derived,
        )

    @property
    def all_names(self) -> tuple[str, ...]:
        return self.names + self.derived

    @property
    def width(self) -> int:
        """Number of encoded columns the model's numeric tower receives."""
        if self.edges is None:
            return len(self.all_names)
        return sum(2 + max(len(e) - 1, 0) for e in self.edges)

    def _log_columns(self, x: np.ndarray) -> np.ndarray:
        """[N, F] raw -> [N, F + D] signed_log1p of raw and derived columns, NaN = missing."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise ValueError(f"expected {len(self.names)} features, got {x.shape[-1]}")
        x = np.where(np.isfinite(x), x, np.nan)
        if self.bgnbd is not None:
            idx = [self.names.index(n) for n in BGNBD_INPUTS]
            x = np.column_stack([x, self.bgnbd.compute(*(x[:, i] for i in idx))])
        return signed_log1p(x)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """[N, F] raw features -> [N, width] float32 encoding (missing -> 0 + flag)."""
        return self.encode_logs(self._log_columns(x))

    def column_slices(self) -> list[slice]:
        """The encoded columns of each of ``all_names``, in order (python_udfs.reasons
        occludes a feature by overwriting its slice)."""
        widths = (
            [1] * len(self.all_names)
            if self.edges is None
            else [2 + max(len(e) - 1, 0) for e in self.edges]
        )
        ends = np.cumsum(widths)
        return [slice(int(end - w), int(end)) for end, w in zip(ends, widths, strict=True)]

    def encode_logs(self, logs: np.ndarray) -> np.ndarray:
        """[N, F + D] signed_log1p columns (NaN = missing) -> [N, width] float32 encoding."""
        z = (logs - np.asarray(self.means)) / np.asarray(self.stds)
        standard = np.clip(np.where(np.isfinite(z), z, 0.0), -CLIP_Z, CLIP_Z)
        if self.edges is None:
            return standard.astype(np.float32)
        parts = []
        for j, edges in enumerate(self.edges):
            missing = ~np.isfinite(z[:, j])
            parts += [standard[:, j : j + 1], missing[:, None].astype(np.float64)]
            parts.append(piecewise_linear(logs[:, j], list(edges)))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def to_dict(self) -> dict:
        d = {"names": list(self.names), "means": list(self.means), "stds": list(self.stds)}
        if self.edges is not None:
            d["edges"] = [list(e) for e in self.edges]
        if self.bgnbd is not None:
            d["bgnbd"] = self.bgnbd.to_dict()
            d["derived"] = list(self.derived)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureScaler:
        """Rebuild from config.json; a count mismatch is an error, never a silent misfit."""
        edges = d.get("edges")
        bgnbd = BgNbdInputs.from_dict(d["bgnbd"]) if d.get("bgnbd") else None
        scaler = cls(
            tuple(d["names"]),
            tuple(d["means"]),
            tuple(d["stds"]),
            tuple(tuple(map(float, e)) for e in edges) if edges is not None else None,
            bgnbd,
            tuple(d.get("derived", ())),
        )
        n = len(scaler.all_names)
        sizes = {len(scaler.means), len(scaler.stds), n if edges is None else len(edges)}
        if sizes != {n} or (bgnbd is not None and set(BGNBD_INPUTS) - set(scaler.names)):
            raise ValueError(
                f"inconsistent feature scaler: {n} features but {len(scaler.means)} means, "
                f"{len(scaler.stds)} stds, {len(edges) if edges is not None else '-'} edge lists"
            )
        return scaler
