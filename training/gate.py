"""The variants and the gate that decides which one ships.

Variants (what the head reads next to the numeric tower):

* numeric: the numeric features only (RFM, cohorts, BG/NBD inputs);
* sequence / sequence_pretrained: + the behaviour encoder over the last K events (types,
  timing, amounts), from scratch or after masked-event pretraining;
* sequence_text / sequence_text_pretrained: the same, each event also carrying the frozen
  sentence embeddings of its products / review / search texts;
* fused / text: the behaviour paragraph's embedding with / without the numeric features
  (the earlier design, kept as an ablation).

The gate ships the simplest variant that no more complex one beats with evidence: variants
are tried from the lowest selection-validation loss down, and one is accepted only when its
per-row loss beats every simpler trained variant's by a paired one-sided 95% margin
(mean difference > GATE_Z standard errors, same rows). So a text variant ships only when the
text lowers the loss beyond noise, and an unhelpful sequence model never replaces the
numeric one. Nothing here reads report rows.
"""

from __future__ import annotations

import numpy as np

from training.config import SEQUENCE_VARIANTS, VARIANTS
from training.evaluate import MODEL

VARIANT_NAMES = {
    "fused": MODEL,
    "numeric": "numeric_only",
    "text": "text_only",
    **{v: v for v in SEQUENCE_VARIANTS},
}
# Complexity order of the gate: a variant must beat every simpler one to ship.
COMPLEXITY = {
    "numeric": 0,
    "sequence": 1,
    "sequence_pretrained": 1,
    "sequence_text": 2,
    "sequence_text_pretrained": 2,
    "fused": 2,
    "text": 2,
}
GATE_Z = 1.645  # one-sided 95% normal quantile


def model_inputs(variant: str) -> str:
    """The ClvModel `inputs` of a variant (pretraining is how it starts, not what it reads)."""
    return variant.removesuffix("_pretrained")


def is_pretrained(variant: str) -> bool:
    return variant.endswith("_pretrained")


def uses_event_text(variant: str) -> bool:
    return model_inputs(variant) == "sequence_text"


def paired_margin(simpler: np.ndarray, richer: np.ndarray) -> tuple[float, float]:
    """(mean loss improvement of `richer` over `simpler` on the same rows, its standard
    error)."""
    diff = np.asarray(simpler, np.float64) - np.asarray(richer, np.float64)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return float(diff.mean()), se


def choose_shipped(
    validation_loss: dict[str, float],
    row_losses: dict[str, np.ndarray] | None = None,
    gate: bool = True,
) -> tuple[str, str]:
    """The variant to ship and why, from each trained variant's selection-validation loss
    (and per-row losses on the same rows, for the paired margin). With the gate off the
    richest trained variant by COMPLEXITY order of VARIANTS ships (fused first, as before)."""
    trained = [v for v in VARIANTS if v in validation_loss]
    if not trained:
        raise ValueError("no variant was trained")
    if not gate or len(trained) == 1:
        preferred = "fused" if "fused" in trained else max(trained, key=COMPLEXITY.__getitem__)
        return preferred, f"gate off: the {VARIANT_NAMES[preferred]} model ships"
    losses = ", ".join(f"{VARIANT_NAMES[v]} {validation_loss[v]:.4f}" for v in trained)
    for variant in sorted(trained, key=lambda v: (validation_loss[v], COMPLEXITY[v])):
        simpler = [v for v in trained if COMPLEXITY[v] < COMPLEXITY[variant]]
        beaten = []
        for other in simpler:
            if row_losses is None:
                margin, se = validation_loss[other] - validation_loss[variant], 0.0
            else:
                margin, se = paired_margin(row_losses[other], row_losses[variant])
            if margin <= GATE_Z * se:
                beaten.append(f"{VARIANT_NAMES[other]} (margin {margin:+.4f}, se {se:.4f})")
        if not beaten:
            why = (
                f"lowest selection-validation loss with evidence over every simpler variant "
                f"(losses: {losses})"
                if simpler
                else f"no richer variant beat it beyond noise on the selection-validation rows "
                f"(losses: {losses}; a richer one must lower the per-row loss by more than "
                f"{GATE_Z} standard errors)"
            )
            return variant, f"the {VARIANT_NAMES[variant]} model ships: {why}"
    raise AssertionError("the simplest trained variant always passes")
