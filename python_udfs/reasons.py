"""Why a customer got its score: occlusion of driver groups, one head pass per group.

The model reads ~40 numeric inputs (python_udfs.features) that are strongly correlated
(recency_days, r_score, P(alive) all say "how long since the last purchase"). Occluding one of
them alone would move the score little while its twins still carry the signal, so attribution
works on DRIVERS: small groups of inputs that say one thing a person can read ("no purchase for
7 months"). Every model input belongs to exactly one driver (a test checks the mapping covers
the warehouse's features), and a text model adds the driver ``behaviour_text``.

Occlusion of a driver for a customer: the driver's encoded inputs are replaced by the
REFERENCE, the encoding of the training population's mean (standardised value 0 of every
signed_log1p feature, not missing, its piecewise-linear bins at the mean), and the head is run
again. The driver's effect is

    effect = score(customer) - score(customer with the driver at the reference)

for churn_probability (probability points) and predicted_clv (currency), so a positive churn
effect means "this driver raises the churn risk above what a typical value would give". The
text driver's reference is the embedding of the empty text (whole-text occlusion): the head
only, no encoder work beyond one text. Effects are exact for the model (no sampling) and
deterministic to the bit: every pass goes through python_udfs.encoding.predict_from_embeddings,
whose fixed chunks make a row's result independent of the other rows of its call.

Limits: occlusion measures a driver against a typical value, not against zero activity; the
effects of drivers do not add up to the score (the head is non-linear and drivers interact);
the occluded input can be an unusual combination (a recent buyer with a typical P(alive)).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from python_udfs.encoding import predict_from_embeddings
from python_udfs.features import FeatureScaler
from python_udfs.model import ClvModel
from python_udfs.schema import ATTRIBUTION_TYPE

logger = logging.getLogger(__name__)

TEXT_DRIVER = "behaviour_text"
EVENTS_DRIVER = "event_history"  # a sequence model's events, occluded to an empty history
OTHER_DRIVER = "other_features"
EMPTY_TEXT = ""  # the text driver's reference: a behaviour text that says nothing
CHURN_OUTPUT = "churn_probability"
CLV_OUTPUT = "predicted_clv"

# Driver -> the model inputs (raw features and BG/NBD-derived inputs) it occludes together.
# models/scoring/customer_score_reasons.sql renders one phrase per driver (macros/reasons.sql).
DRIVER_FEATURES: dict[str, tuple[str, ...]] = {
    "recency": (
        "recency_days",
        "r_score",
        "purchases_last_30d",
        "bgnbd_p_alive",
        "bgnbd_p_no_purchase",
    ),
    "recent_trend": (
        "purchases_last_90d",
        "purchases_last_365d",
        "revenue_last_90d",
        "revenue_last_365d",
    ),
    "frequency": (
        "orders",
        "frequency",
        "purchase_days",
        "repeat_purchase_days",
        "f_score",
        "bgnbd_expected_purchases",
    ),
    "spend": (
        "monetary_total",
        "monetary_mean",
        "net_monetary_total",
        "repeat_purchase_value_mean",
        "m_score",
        "bgnbd_gg_expected_revenue",
    ),
    "rhythm": ("mean_gap_days", "stddev_gap_days", "max_gap_days", "purchase_span_days"),
    "returns": ("returned_orders", "cancelled_orders", "return_rate", "refunds", "refunded_amount"),
    "tenure": ("tenure_days", "months_since_first_order", "days_from_signup_to_first_order"),
    "cohort_standing": ("revenue_percentile_in_cohort", "revenue_vs_cohort"),
    "cohort": (
        "cohort_size",
        "cohort_mean_revenue",
        "cohort_median_revenue",
        "cohort_repeat_rate",
        "cohort_active_rate_90d",
    ),
}


def driver_columns(scaler: FeatureScaler) -> dict[str, np.ndarray]:
    """Driver -> the encoded columns of its inputs, for the drivers this model has, in
    DRIVER_FEATURES order. Inputs no driver names go to OTHER_DRIVER (with a warning)."""
    slices = dict(zip(scaler.all_names, scaler.column_slices(), strict=True))
    owner = {name: driver for driver, names in DRIVER_FEATURES.items() for name in names}
    unmapped = [name for name in scaler.all_names if name not in owner]
    if unmapped:
        logger.warning(
            "model inputs without a driver in python_udfs.reasons.DRIVER_FEATURES, attributed "
            "together as %s: %s",
            OTHER_DRIVER,
            ", ".join(unmapped),
        )
    columns: dict[str, list[int]] = {}
    for name in scaler.all_names:
        driver = owner.get(name, OTHER_DRIVER)
        columns.setdefault(driver, []).extend(range(slices[name].start, slices[name].stop))
    order = [*DRIVER_FEATURES, OTHER_DRIVER]
    return {d: np.asarray(columns[d], dtype=np.int64) for d in order if d in columns}


def reference_encoding(scaler: FeatureScaler) -> np.ndarray:
    """[width] encoding of the training mean of every input (standardised 0, not missing)."""
    return scaler.encode_logs(np.asarray(scaler.means, dtype=np.float64)[None, :])[0]


def occlude(encoded: np.ndarray, columns: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """A copy of `encoded` [N, width] with `columns` set to the reference values."""
    out = encoded.copy()
    out[:, columns] = reference[columns]
    return out


@dataclass(frozen=True)
class Head:
    """What a head pass needs: the model, its device and the CLV calibration."""

    model: ClvModel
    device: torch.device | str
    clv_scale: float

    def scores(self, embeddings: torch.Tensor, encoded: np.ndarray) -> dict[str, np.ndarray]:
        return predict_from_embeddings(self.model, embeddings, encoded, self.device, self.clv_scale)


@dataclass(frozen=True)
class DriverEffects:
    """Effects [N, drivers] of occluding each driver, on churn_probability and predicted_clv,
    plus the unoccluded scores [N]."""

    drivers: list[str]
    churn: np.ndarray
    clv: np.ndarray
    churn_probability: np.ndarray
    predicted_clv: np.ndarray


def driver_effects(
    head: Head,
    scaler: FeatureScaler,
    embeddings: np.ndarray | None,
    numeric: np.ndarray,
    empty_embedding: np.ndarray | None = None,
    embedding_driver: str = TEXT_DRIVER,
) -> DriverEffects:
    """Occlusion effects of every driver for raw features `numeric` [N, F] and `embeddings`
    [N, H] (None for a numeric-only model). `empty_embedding` [H], the embedding of
    EMPTY_TEXT (or, for a sequence model, the empty event history's vector), adds the
    `embedding_driver` (TEXT_DRIVER / EVENTS_DRIVER: whole-input occlusion)."""
    n = len(numeric)
    encoded = scaler.transform(numeric)
    reference = reference_encoding(scaler)
    if embeddings is None:
        text = torch.zeros((n, 1), dtype=torch.float32)
    else:
        text = torch.from_numpy(np.array(embeddings, dtype=np.float32))
    base = head.scores(text, encoded)
    drivers, churn, clv = [], [], []
    for driver, columns in driver_columns(scaler).items():
        occluded = head.scores(text, occlude(encoded, columns, reference))
        drivers.append(driver)
        churn.append(base[CHURN_OUTPUT] - occluded[CHURN_OUTPUT])
        clv.append(base[CLV_OUTPUT] - occluded[CLV_OUTPUT])
    if embeddings is not None and empty_embedding is not None:
        empty = torch.from_numpy(np.array(empty_embedding, dtype=np.float32)).expand(n, -1)
        occluded = head.scores(empty.contiguous(), encoded)
        drivers.append(embedding_driver)
        churn.append(base[CHURN_OUTPUT] - occluded[CHURN_OUTPUT])
        clv.append(base[CLV_OUTPUT] - occluded[CLV_OUTPUT])
    shape = (n, 0)
    return DriverEffects(
        drivers,
        np.column_stack(churn) if churn else np.zeros(shape),
        np.column_stack(clv) if clv else np.zeros(shape),
        base[CHURN_OUTPUT],
        base[CLV_OUTPUT],
    )


def check_finite_effects(effects: DriverEffects, model_version: str) -> None:
    """Raise ValueError naming the model when an effect is NaN or infinite."""
    bad = int((~np.isfinite(effects.churn)).sum() + (~np.isfinite(effects.clv)).sum())
    if bad:
        raise ValueError(
            f"model {model_version} gave {bad} NaN or infinite driver effect(s); its weights are "
            f"probably corrupt or diverged: retrain (make train)"
        )


def effects_to_arrow(effects: DriverEffects, mask: Sequence[bool] | None = None) -> pa.ListArray:
    """One LIST(STRUCT(driver, churn_effect, clv_effect)) per row, drivers in order; rows
    where `mask` is true are NULL."""
    n, width = effects.churn.shape
    structs = pa.StructArray.from_arrays(
        [
            pa.array(np.tile(np.asarray(effects.drivers, dtype=object), n), pa.string()),
            pa.array(effects.churn.reshape(-1), pa.float64()),
            pa.array(effects.clv.reshape(-1), pa.float64()),
        ],
        fields=list(ATTRIBUTION_TYPE.value_type),
    )
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * width, pa.int32())
    lists = pa.ListArray.from_arrays(offsets, structs, type=ATTRIBUTION_TYPE)
    if mask is None or not any(mask):
        return lists
    return pa.ListArray.from_arrays(
        offsets, structs, type=ATTRIBUTION_TYPE, mask=pa.array(list(mask), pa.bool_())
    )
