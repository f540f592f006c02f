"""Protocols: which rows select the settings, which rows refit, which rows report."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from training.config import TrainConfig
from training.data import Examples, customer_fraction, split_examples

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """Row indices of one protocol. Candidates train on `select_train` and are compared (and
    early-stopped) on `select_val`; the chosen one is refitted on `refit`; metrics are reported
    on `report` (held-out test rows, or `select_val` when the protocol keeps no test rows)."""

    select_train: np.ndarray
    select_val: np.ndarray
    refit: np.ndarray
    report: np.ndarray
    report_is_test: bool
    selection: str  # how select_val was drawn, in words


def make_plan(cfg: TrainConfig, examples: Examples, label_days: int) -> Plan:
    """customers / out-of-time: the existing held-out split, selection inside the rest.
    rolling: select out of time on the latest cutoff when an earlier cutoff's labels end by
    it, else on held-out customers; refit on every row."""
    if cfg.validation in ("customers", "out-of-time"):
        return held_out_plan(cfg, examples, label_days)
    return rolling_plan(cfg, examples, label_days)


def held_out_plan(cfg: TrainConfig, examples: Examples, label_days: int) -> Plan:
    """Test rows held out for the report; selection on a share of the training customers."""
    split = split_examples(
        examples,
        cfg.validation,
        cfg.seed,
        cfg.test_fraction,
        cfg.early_stopping_fraction,
        label_days=label_days,
    )
    return Plan(
        split.train,
        split.early_stopping,
        np.sort(np.concatenate([split.train, split.early_stopping])),
        split.test,
        True,
        f"{cfg.early_stopping_fraction:.0%} of the training customers",
    )


def rolling_plan(cfg: TrainConfig, examples: Examples, label_days: int) -> Plan:
    """Every row refits; selection out of time when it can be, else on held-out customers."""
    latest = examples.cutoff_date.max()
    everything = np.arange(len(examples))
    earlier = examples.cutoff_date + np.timedelta64(label_days, "D") <= latest
    if earlier.any():
        val = np.flatnonzero(examples.cutoff_date == latest)
        return Plan(
            np.flatnonzero(earlier),
            val,
            everything,
            val,
            False,
            f"out of time: the latest cutoff {latest} (trained on cutoffs whose labels end by it)",
        )
    logger.warning(
        "no training cutoff lies %d days (the longer horizon) before the latest one, so "
        "selection uses held-out customers across all cutoffs instead of out-of-time rows; "
        "add earlier cutoffs (training_cutoffs count) for out-of-time selection",
        label_days,
    )
    held = customer_fraction(examples.customer_id, cfg.seed + 1) < cfg.early_stopping_fraction
    return Plan(
        np.flatnonzero(~held),
        np.flatnonzero(held),
        everything,
        np.flatnonzero(held),
        False,
        f"{cfg.early_stopping_fraction:.0%} of the customers, all cutoffs (no cutoff is "
        f"{label_days} days before the latest)",
    )


def sample_rows(rows: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit and len(rows) > limit:
        return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
    return rows


def earliest_evaluated_cutoff(examples: Examples, plan: Plan) -> np.datetime64:
    """The earliest cutoff whose labels select or report a model: the self-supervised
    pretraining reads only histories up to it, so it sees no event inside a label window that
    any selection or report number is computed on."""
    evaluated = np.concatenate([plan.select_val, plan.report])
    return examples.cutoff_date[evaluated].min()


def pretraining_rows(examples: Examples, plan: Plan) -> np.ndarray:
    """Every row (labelled or not, any customer) whose cutoff is at or before the earliest
    evaluated cutoff: its events all lie before that cutoff."""
    return np.flatnonzero(examples.cutoff_date <= earliest_evaluated_cutoff(examples, plan))
