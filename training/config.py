"""Training configuration: one frozen dataclass, validated, settable from the command line."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

MODES = ("auto", "head", "lora", "full")
PROTOCOLS = ("rolling", "customers", "out-of-time")
GRIDS = ("auto", "small", "none")
VARIANTS = ("fused", "numeric", "text")


def _opt(default, help_text: str, **extra):
    return field(default=default, metadata={"help": help_text, **extra})


def _from_settings(attribute: str, help_text: str):
    """A default read from the project configuration (python_udfs.settings) at construction,
    so CLV_DUCKDB_PATH / CLV_MODEL_PATH reach training exactly as they reach dbt."""

    def default() -> Path:
        from python_udfs import settings

        return getattr(settings.load(), attribute)

    return field(default_factory=default, metadata={"help": help_text})


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Mode auto = full fine-tuning on CUDA, head (frozen encoder, each unique text
    encoded once) on CPU, so the CPU defaults finish on CDNOW in minutes. Every protocol picks
    the settings (a small grid) and the epoch count on validation rows, then refits the shipped
    model with them on all labelled rows of the protocol."""

    database: Path = _from_settings(
        "duckdb_path", "DuckDB file holding training_examples (default: env CLV_DUCKDB_PATH)"
    )
    base_model: str | None = _opt(
        None, "local Hugging Face checkpoint directory (default: the bundled all-MiniLM-L6-v2)"
    )
    mode: str = _opt("auto", "fine-tuning mode (auto: full on CUDA, head on CPU)", choices=MODES)
    validation: str = _opt(
        "rolling",
        "rolling: every training cutoff; select on the latest cutoff (out of time, when an "
        "earlier cutoff's labels end by it; else on held-out customers) and refit on all rows. "
        "customers: seeded customer split at one cutoff, the held-out half only for the report "
        "(benchmarks). out-of-time: the latest cutoff only for the report",
        choices=PROTOCOLS,
    )
    cutoff: str | None = _opt(
        None, "training cutoff to use with --validation customers (default: the latest)"
    )
    test_fraction: float = _opt(0.5, "share of customers held out for the report (customers)")
    early_stopping_fraction: float = _opt(
        0.2, "share of the training customers used for selection + early stopping"
    )
    max_examples: int | None = _opt(None, "sample at most this many training rows (seeded)")
    max_length: int = _from_settings(
        "text_token_budget",
        "max tokens per behaviour text (default: the text_token_budget setting, "
        "env CLV_TEXT_TOKEN_BUDGET)",
    )
    hidden: int = _opt(128, "width of the numeric tower and the fusion head")
    numeric_blocks: int = _opt(2, "residual MLP blocks in the numeric tower")
    dropout: float = _opt(0.1, "dropout in the tower and head")
    bins: int = _opt(8, "quantile bins of the piecewise-linear feature encoding (0: none)")
    bgnbd_features: bool = _opt(True, "add BG/NBD-derived inputs (P(alive), E[purchases], ...)")
    grid: str = _opt(
        "auto",
        "candidate settings: small grid, none (the given ones), auto (small in head "
        "mode, none when the encoder trains)",
        choices=GRIDS,
    )
    variants: str = _opt(
        "fused",
        "comma list of variants to train and report: fused (shipped), numeric, text (ablations;"
        " the benchmarks train all three)",
    )
    refit: bool = _opt(True, "refit on all labelled rows with the selected settings and epochs")
    text_gate: bool = _opt(
        True,
        "also train the numeric-only model and ship it instead of the fused one when the text "
        "does not lower the selection-validation loss (never decided on report rows)",
    )
    bootstrap_samples: int = _opt(1000, "paired bootstrap samples for the difference intervals")
    export_predictions: Path | None = _opt(
        None, "also write the held-out predictions CSV (every variant + baselines) here"
    )
    epochs: int = _opt(40, "maximum epochs")
    patience: int = _opt(8, "early stopping: epochs without improvement")
    batch_size: int | None = _opt(None, "batch size (default: 256 head, 32 CPU / 128 GPU else)")
    lr: float = _opt(1e-3, "learning rate of the head (and LoRA adapters)")
    encoder_lr: float = _opt(3e-5, "learning rate of the encoder in full mode")
    weight_decay: float = _opt(0.01, "AdamW weight decay")
    warmup_fraction: float = _opt(0.06, "share of steps with linear warm-up")
    grad_clip: float = _opt(1.0, "gradient norm clip")
    churn_weight: float = _opt(1.0, "weight of the churn loss next to the ZILN loss")
    lora_rank: int = _opt(8, "LoRA rank (mode=lora)")
    max_steps: int | None = _opt(None, "stop after this many optimiser steps")
    seed: int = _opt(0, "random seed")
    device: str | None = _opt(None, "cpu, cuda, cuda:1 ... (default: cuda when available)")
    precision: str = _opt(
        "auto",
        "encoder precision, recorded in the artifact and used for scoring (auto: bf16 on CUDA "
        "and on CPUs with bf16 matrix units, else fp32)",
        choices=("auto", "fp32", "bf16"),
    )
    output_dir: Path = _from_settings(
        "model_path", "where artifacts and the current pointer go (default: env CLV_MODEL_PATH)"
    )
    report_dir: Path | None = _opt(None, "report + predictions folder (default: the artifact)")
    baselines: bool = _opt(True, "fit and report BG/NBD+Gamma-Gamma and GBM baselines")
    progress: bool = _opt(True, "show progress bars")

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.validation not in PROTOCOLS:
            raise ValueError(f"validation must be one of {PROTOCOLS}")
        if not 0 < self.test_fraction < 1 or not 0 < self.early_stopping_fraction < 1:
            raise ValueError("test_fraction and early_stopping_fraction must be in (0, 1)")
        if self.max_length < 8 or self.epochs < 1 or self.patience < 1:
            raise ValueError("max_length >= 8, epochs >= 1 and patience >= 1 are required")
        if self.grid not in GRIDS:
            raise ValueError(f"grid must be one of {GRIDS}")
        unknown = set(self.variant_list) - set(VARIANTS)
        if unknown or "fused" not in self.variant_list:
            raise ValueError(f"variants must include fused and be among {VARIANTS}")

    @property
    def variant_list(self) -> list[str]:
        """The variants to train: those asked for, plus numeric-only when the text gate needs
        it to compare against."""
        listed = [v.strip() for v in self.variants.split(",") if v.strip()]
        if self.text_gate and "numeric" not in listed:
            listed.append("numeric")
        return listed

    def resolved_mode(self, on_gpu: bool) -> str:
        """auto: full fine-tuning on CUDA, frozen encoder (head) on CPU."""
        if self.mode == "auto":
            return "full" if on_gpu else "head"
        return self.mode

    def resolved_batch_size(self, on_gpu: bool) -> int:
        if self.batch_size:
            return self.batch_size
        if self.resolved_mode(on_gpu) == "head":
            return 256
        return 128 if on_gpu else 32

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """`--key value` for every TrainConfig field (`--no-baselines` / `--no-progress`)."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=TrainConfig.__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = None
        if isinstance(default, bool):
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=f.metadata["help"],
            )
            continue
        if isinstance(default, Path) or f.name in ("report_dir", "export_predictions"):
            kind = Path
        elif isinstance(default, float):
            kind = float
        elif isinstance(default, int) or f.name in ("max_examples", "batch_size", "max_steps"):
            kind = int
        else:
            kind = str
        parser.add_argument(
            flag,
            type=kind,
            default=default,
            help=f.metadata["help"],
            choices=f.metadata.get("choices"),
        )
    return TrainConfig(**vars(parser.parse_args(argv)))
