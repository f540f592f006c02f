"""One variant's candidates, selection and refit (`VariantTrainer`), shared by every variant:
the numeric tower alone, with the behaviour paragraph, or with the behaviour encoder over the
event sequence (python_udfs.sequence; training.pretrain starts it from masked-event
pretraining)."""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from python_udfs.features import BGNBD_INPUTS, BgNbdInputs, FeatureScaler
from python_udfs.model import ClvModel, pooling_for
from python_udfs.sequence import SequenceSpec
from training import baselines
from training.checkpoint import RunCheckpoint
from training.config import TrainConfig
from training.data import Examples
from training.evaluate import evaluate
from training.events import EventData
from training.gate import is_pretrained, model_inputs, uses_event_text
from training.loop import Trainer, build_optimizer, load_encoder, prepare_encoder
from training.plans import Plan

logger = logging.getLogger(__name__)
NO_STEP_LIMIT = 10**12  # total optimiser steps when max_steps is unset (only bounds a min())
DAYS_PER_WEEK = 7.0  # BG/NBD is fitted in weeks
BGNBD_PENALIZER = 1e-4  # L2 penalty of the BG/NBD and Gamma-Gamma fits (keeps them finite)
MIN_GAMMA_GAMMA_Q = 1.0  # Gamma-Gamma has a finite mean spend only for q > 1
# The small selection grid: a wider + deeper candidate, and a more regularised, slower one.
WIDE_HIDDEN_FACTOR = 2
WIDE_EXTRA_BLOCKS = 1
REGULARISED_DROPOUT_FACTOR = 2
REGULARISED_LR_DIVISOR = 3
MIN_SEQUENCE_STEPS = 50  # a sequence model's default batch gets smaller below 50 steps an epoch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def label_stats(revenue: np.ndarray, churned: np.ndarray) -> dict[str, float]:
    positive = revenue[revenue > 0]
    logs = np.log(positive) if positive.size else np.zeros(1)
    return {
        "purchase_rate": float((revenue > 0).mean()),
        "log_mean": float(logs.mean()),
        "log_std": float(logs.std()) if positive.size > 1 else 1.0,
        "churn_rate": float(churned.mean()),
    }


@dataclass(frozen=True)
class Candidate:
    """One setting of the selection grid."""

    name: str
    hidden: int
    numeric_blocks: int
    dropout: float
    lr: float


def candidates(cfg: TrainConfig, mode: str, variant: str = "numeric") -> list[Candidate]:
    """The configured setting, plus (grid small, or auto in head mode) a wider/deeper and a
    more regularised, slower one. Sequence variants train the configured setting only under
    grid auto (each candidate there costs a transformer fit, not an MLP fit)."""
    base = Candidate("configured", cfg.hidden, cfg.numeric_blocks, cfg.dropout, cfg.lr)
    grid = cfg.grid if cfg.grid != "auto" else ("small" if mode == "head" else "none")
    if cfg.grid == "auto" and variant.startswith("sequence"):
        grid = "none"
    if grid == "none":
        return [base]
    wide = Candidate(
        "wide",
        WIDE_HIDDEN_FACTOR * cfg.hidden,
        cfg.numeric_blocks + WIDE_EXTRA_BLOCKS,
        cfg.dropout,
        cfg.lr,
    )
    regularised = Candidate(
        "regularised",
        cfg.hidden,
        cfg.numeric_blocks,
        REGULARISED_DROPOUT_FACTOR * cfg.dropout,
        cfg.lr / REGULARISED_LR_DIVISOR,
    )
    return [base, wide, regularised]


@dataclass
class Fitted:
    """A trained model with what is needed to score and describe it."""

    model: ClvModel
    trainer: Trainer
    scaler: FeatureScaler
    candidate: Candidate
    fit: dict
    clv_scale: float
    pretrained: bool = False  # the behaviour encoder started from masked-event pretraining


class VariantTrainer:
    """Builds, trains and scores one input variant (training.gate.VARIANTS) of the model.
    Sequence variants read `events` (set before their first fit) and, when pretrained, start
    their behaviour encoder from `pretrained[uses_event_text]` (see training.pretrain)."""

    def __init__(
        self,
        cfg: TrainConfig,
        examples: Examples,
        base_model: str,
        device: torch.device,
        mode: str,
        horizon_days: int,
        churn_horizon_days: int,
    ) -> None:
        self.cfg, self.examples, self.base_model, self.device = cfg, examples, base_model, device
        self.mode, self.horizon_days, self.churn_horizon_days = (
            mode,
            horizon_days,
            churn_horizon_days,
        )
        self.embeddings: torch.Tensor | None = None
        self.encode_texts_per_s: float | None = None
        self.tokenizer = None
        self.checkpoints: Path | None = None  # the checkpoint folder, when checkpoints are on
        self._frozen = None  # (encoder, tokenizer) shared by models that never train it
        self.events: EventData | None = None
        self.pretrained: dict[bool, dict] = {}  # uses_event_text -> encoder state
        # The fitted numeric model per phase ("select" / "refit"): sequence variants start from
        # it, their sequence part switched off, and learn what the events add on top.
        self.numeric_start: dict[str, Fitted] = {}

    def sequence_spec(self, variant: str, candidate: Candidate) -> SequenceSpec | None:
        """The behaviour encoder's settings of a sequence variant (None: not a sequence one)."""
        if not variant.startswith("sequence"):
            return None
        if self.events is None:
            raise RuntimeError("sequence variants need the event sequences (VariantTrainer.events)")
        text_dim = int(self.events.text_embeddings.shape[1]) if uses_event_text(variant) else 0
        return SequenceSpec(
            width=self.cfg.sequence_width,
            layers=self.cfg.sequence_layers,
            heads=self.cfg.sequence_heads,
            dropout=candidate.dropout,
            encoder=self.cfg.sequence_encoder,
            text_input_dim=text_dim,
            text_dim=self.cfg.event_text_dim,
            max_events=self.events.max_events,
        )

    def encoder_for(self, variant: str):
        """A fresh base encoder when it will be trained; one shared frozen copy otherwise."""
        if self.mode != "head" and model_inputs(variant) in ("fused", "text"):
            return load_encoder(self.base_model, self.device)
        if self._frozen is None:
            self._frozen = load_encoder(self.base_model, self.device)
        return self._frozen

    def fit_scaler(self, rows: np.ndarray) -> FeatureScaler:
        """Numeric encoding (and BG/NBD inputs) fitted on `rows` only."""
        bgnbd = None
        if self.cfg.bgnbd_features:
            bgnbd = fit_bgnbd_inputs(
                self.examples.subset(rows), self.horizon_days, self.churn_horizon_days
            )
        return FeatureScaler.fit(
            self.examples.feature_names, self.examples.numeric[rows], bgnbd, self.cfg.bins
        )

    def text_embeddings(self, model: ClvModel, tokenizer) -> torch.Tensor | None:
        """Frozen-encoder embeddings of every row, computed once (head mode)."""
        if self.mode != "head" or not model.uses_text:
            return None
        if self.embeddings is None:
            probe = Trainer(
                self.cfg, model, tokenizer, self.examples, np.zeros((1, 1)), self.device
            )
            self.embeddings = probe.precompute_embeddings()
            self.encode_texts_per_s = probe.encode_texts_per_s
        return self.embeddings

    def build_model(
        self, variant: str, candidate: Candidate, scaler: FeatureScaler, rows: np.ndarray
    ) -> ClvModel:
        """A fresh model of `variant` with the candidate's settings, its output bias at the
        base rates of `rows`, its encoder frozen or wrapped as the mode asks."""
        encoder, tokenizer = self.encoder_for(variant)
        self.tokenizer = tokenizer
        spec = self.sequence_spec(variant, candidate)
        model = ClvModel(
            encoder,
            scaler.width,
            candidate.hidden,
            candidate.dropout,
            pooling_for(encoder.config),
            candidate.numeric_blocks,
            inputs=model_inputs(variant),
            sequence=spec,
        ).to(self.device)
        model.init_output_bias(
            **label_stats(self.examples.revenue[rows], self.examples.churned[rows])
        )
        if is_pretrained(variant):
            assert model.sequence is not None
            state = self.pretrained[uses_event_text(variant)]
            model.sequence.load_state_dict(state)
        prepare_encoder(self.cfg, model, self.mode)
        return model

    def warm_start(self, model: ClvModel, phase: str) -> bool:
        """Start a sequence model at the fitted numeric model of `phase`: its tower and head,
        frozen; sequence_head starts at zero, so the model scores exactly like the numeric one
        until training finds what the events add (boosting on the numeric model). False when
        there is none to start from."""
        start = self.numeric_start.get(phase)
        if model.sequence is None or start is None:
            return False
        model.numeric_tower.load_state_dict(start.model.numeric_tower.state_dict())
        model.head.load_state_dict(start.model.head.state_dict())
        # the numeric model is fitted (and early-stopped) already: training it further only
        # overfits; the behaviour encoder and sequence_head learn what the events add
        model.numeric_tower.requires_grad_(False)
        model.head.requires_grad_(False)
        return True

    def total_steps(self, rows: np.ndarray, batch_size: int, epochs: int) -> int:
        """Optimiser steps of a run (the length of the learning-rate schedule)."""
        per_epoch = math.ceil(len(rows) / batch_size)
        return min(self.cfg.max_steps or NO_STEP_LIMIT, per_epoch * epochs)

    def run_checkpoint(self, variant: str, candidate: Candidate, phase: str):
        """Where this run saves its resumable state (None: checkpoints are off)."""
        if self.checkpoints is None:
            return None
        name = f"{variant}-{phase}-{candidate.name}"
        return RunCheckpoint(self.checkpoints, name, self.cfg.checkpoint_every_steps)

    def train(
        self,
        variant: str,
        candidate: Candidate,
        rows: np.ndarray,
        early: np.ndarray | None,
        epochs: int | None = None,
    ) -> Fitted:
        """One model: early-stopped on `early`, or exactly `epochs` epochs without it."""
        seed_everything(self.cfg.seed)
        scaler = self.fit_scaler(rows)
        model = self.build_model(variant, candidate, scaler, rows)
        numeric = scaler.transform(self.examples.numeric)
        embeddings = self.text_embeddings(model, self.tokenizer)
        trainer = Trainer(
            self.cfg, model, self.tokenizer, self.examples, numeric, self.device, embeddings,
            events=self.events,
        )  # fmt: skip
        phase = "select" if early is not None else "refit"
        trainer.warm_started = self.warm_start(model, phase)  # before the optimizer: freezes
        if model.sequence is not None and not self.cfg.batch_size:
            # small shops: at least MIN_SEQUENCE_STEPS steps an epoch
            trainer.batch_size = int(
                np.clip(len(rows) // MIN_SEQUENCE_STEPS, 32, trainer.batch_size)
            )
        n_epochs = epochs or self.cfg.epochs
        total = self.total_steps(rows, trainer.batch_size, n_epochs)
        lr = self.cfg.sequence_lr if model.sequence is not None else candidate.lr
        optimizer, scheduler = build_optimizer(self.cfg, model, total, lr, self.mode)
        checkpoint = self.run_checkpoint(variant, candidate, phase)
        started = time.perf_counter()
        fit = trainer.fit(rows, early, optimizer, scheduler, n_epochs, checkpoint)
        fit["train_seconds"] = round(time.perf_counter() - started, 1)
        fit["rows"] = len(rows)
        clv_scale = trainer.calibrate(rows if early is None else np.concatenate([rows, early]))
        return Fitted(
            model, trainer, scaler, candidate, fit, clv_scale, pretrained=is_pretrained(variant)
        )

    def select(self, variant: str, plan: Plan) -> tuple[Fitted, list[dict]]:
        """Train every candidate on select_train, early-stopped on select_val; the best one by
        validation loss (with its validation metrics for the record)."""
        results, best = [], None
        start = self.numeric_start.get("select")
        listed = candidates(self.cfg, self.mode, variant)
        if variant.startswith("sequence") and start is not None:
            listed = [start.candidate]  # the numeric model's settings: it starts from them
        for candidate in tqdm(
            listed,
            desc=f"selecting {variant}",
            unit="candidate",
            disable=not self.cfg.progress,
        ):
            fitted = self.train(variant, candidate, plan.select_train, plan.select_val)
            val = self.examples.subset(plan.select_val)
            preds = fitted.trainer.predict(plan.select_val, fitted.clv_scale)
            metrics = evaluate(
                val.revenue, val.churned, preds["predicted_clv"], preds["churn_probability"]
            )
            results.append(
                {
                    **asdict(candidate),
                    "validation_loss": fitted.fit["early_stopping_loss"],
                    "best_epoch": fitted.fit["best_epoch"],
                    "train_seconds": fitted.fit["train_seconds"],
                    "validation_normalized_gini": metrics["normalized_gini"],
                    "validation_roc_auc": metrics["roc_auc"],
                }
            )
            logger.info("%s / %s: %s", variant, candidate.name, results[-1])
            if best is None or fitted.fit["early_stopping_loss"] < best.fit["early_stopping_loss"]:
                best = fitted
        assert best is not None, "candidates() always returns at least one candidate"
        return best, results


def fit_bgnbd_inputs(
    rows: Examples, horizon_days: int, churn_horizon_days: int
) -> BgNbdInputs | None:
    """BG/NBD + Gamma-Gamma fitted on the rows' RFM summaries (weeks), or None when the
    features or the fit do not allow it (logged)."""
    if not set(BGNBD_INPUTS) <= set(rows.feature_names):
        logger.warning("BG/NBD inputs skipped: the features lack %s", BGNBD_INPUTS)
        return None
    x = rows.column("repeat_purchase_days")
    big_t = rows.column("tenure_days") / DAYS_PER_WEEK
    t_x = np.minimum(rows.column("purchase_span_days") / DAYS_PER_WEEK, big_t)
    ok = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(big_t)
    gamma_gamma: baselines.GammaGammaParams | None
    try:
        bgnbd = baselines.fit_bgnbd(x[ok], t_x[ok], big_t[ok], penalizer=BGNBD_PENALIZER)
        value = rows.column("repeat_purchase_value_mean")
        repeat = ok & (x > 0) & np.isfinite(value) & (value > 0)
        gamma_gamma = baselines.fit_gamma_gamma(x[repeat], value[repeat], penalizer=BGNBD_PENALIZER)
        if gamma_gamma.q <= MIN_GAMMA_GAMMA_Q:
            gamma_gamma = None
    except (ValueError, FloatingPointError) as error:
        logger.warning("BG/NBD inputs skipped: the fit failed (%s)", error)
        return None
    return BgNbdInputs(
        (bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b),
        (gamma_gamma.p, gamma_gamma.q, gamma_gamma.v) if gamma_gamma else None,
        horizon_days / DAYS_PER_WEEK,
        churn_horizon_days / DAYS_PER_WEEK,
    )
