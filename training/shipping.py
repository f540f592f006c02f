"""What a training leaves behind: the artifact of the shipped variant (a new version folder)
and the evaluation report."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from python_udfs.artifact import ArtifactConfig, save_artifact
from python_udfs.hardware import resolve_precision
from training.config import TrainConfig
from training.data import fingerprint
from training.evaluate import write_report
from training.gate import VARIANT_NAMES, model_inputs
from training.loop import finalize_encoder

if TYPE_CHECKING:
    from training.train import Evaluation, Setup, Trained
    from training.variants import Fitted, VariantTrainer

VERSION_TIME_FORMAT = "%Y%m%dT%H%M%S"  # model versions: clv-<UTC time>-<data fingerprint>
VERSION_FINGERPRINT_CHARS = 8


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


def sequence_config(shipped: Fitted, runner: VariantTrainer) -> dict | None:
    """The artifact's `sequence` entry: the behaviour encoder's settings and the identity of
    the event-text embeddings it was trained on (None: not a sequence model)."""
    encoder = shipped.model.sequence
    if encoder is None:
        return None
    events = runner.events
    assert events is not None, "a sequence model was trained on event sequences"
    return {
        **asdict(encoder.spec),
        "event_text_encoder_fingerprint": events.encoder_fingerprint
        if encoder.spec.uses_text
        else None,
        "pretrained": shipped.pretrained,
    }


def artifact_config(
    cfg: TrainConfig,
    setup: Setup,
    runner: VariantTrainer,
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
        inputs=model_inputs(shipped_variant),
        sequence=sequence_config(shipped, runner),
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
    context["pretraining"] = trained.pretraining
    artifact = artifact_config(
        cfg, setup, runner, shipped, shipped_variant, trained.selection, evaluation, context,
        data_fingerprint,
    )  # fmt: skip
    directory = save_artifact(
        cfg.output_dir / version, shipped.model.cpu(), runner.tokenizer, artifact
    )
    return directory, context
