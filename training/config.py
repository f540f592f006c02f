"""Training configuration: one frozen dataclass, validated, settable from the command line."""

from __future__ import annotations

import argparse
import json
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

MODES = ("auto", "head", "lora", "full")
PROTOCOLS = ("rolling", "customers", "out-of-time")
GRIDS = ("auto", "small", "none")
# The model variants (training.gate says what each reads and which ships). "auto" trains the
# numeric model and the four sequence variants; the text ones are dropped (logged) when the
# warehouse's events carry no text.
SEQUENCE_VARIANTS = (
    "sequence", "sequence_pretrained", "sequence_text", "sequence_text_pretrained",
)  # fmt: skip
VARIANTS = ("fused", "numeric", "text", *SEQUENCE_VARIANTS)
AUTO_VARIANTS = ("numeric", *SEQUENCE_VARIANTS)
SEQUENCE_ENCODERS = ("transformer", "gru")
CHECKPOINTING = ("auto", "on", "off")
# Default batch sizes (--batch-size overrides): head mode steps are a small MLP on precomputed
# embeddings; when the encoder trains, each row is a forward + backward pass through it.
HEAD_BATCH_SIZE = 256
ENCODER_BATCH_SIZE_GPU = 128
ENCODER_BATCH_SIZE_CPU = 32
LORA_ALPHA_PER_RANK = 2  # default LoRA alpha = this x rank (scaling alpha / rank = 2)


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
        "auto",
        "comma list of variants to train, compare and gate: numeric, sequence, "
        "sequence_pretrained, sequence_text, sequence_text_pretrained (the behaviour encoder "
        "over the event sequence, with/without event texts, with/without masked-event "
        "pretraining), fused / text (the behaviour paragraph); auto: numeric + the four "
        "sequence variants (text ones only when the events carry text), e.g. auto,fused",
    )
    refit: bool = _opt(True, "refit on all labelled rows with the selected settings and epochs")
    text_gate: bool = _opt(
        True,
        "also train the numeric-only model; ship a richer variant only when it lowers the "
        "per-row selection-validation loss of every simpler one beyond noise (never decided "
        "on report rows; training.gate)",
    )
    sequence_encoder: str = _opt(
        "transformer", "behaviour encoder over the events", choices=SEQUENCE_ENCODERS
    )
    sequence_width: int = _opt(64, "width of the behaviour encoder's event tokens")
    sequence_layers: int = _opt(2, "layers of the behaviour encoder")
    sequence_heads: int = _opt(4, "attention heads of the behaviour encoder")
    event_text_dim: int = _opt(32, "size of the projected event-text vectors")
    sequence_patience: int = _opt(
        4,
        "early stopping of a sequence model (it starts from the fitted numeric model, so it "
        "improves in the first epochs or not at all)",
    )
    sequence_lr: float = _opt(
        3e-3, "learning rate of a sequence model's behaviour encoder and sequence head"
    )
    pretrain_epochs: int = _opt(4, "epochs of masked-event pretraining (pretrained variants)")
    pretrain_lr: float = _opt(1e-3, "peak learning rate of the masked-event pretraining")
    pretrain_seconds: float | None = _opt(
        None, "stop the masked-event pretraining after this many seconds"
    )
    bootstrap_samples: int = _opt(1000, "paired bootstrap samples for the difference intervals")
    export_predictions: Path | None = _opt(
        None, "also write the held-out predictions CSV (every variant + baselines) here"
    )
    epochs: int = _opt(40, "maximum epochs")
    patience: int = _opt(8, "early stopping: epochs without improvement")
    batch_size: int | None = _opt(
        None,
        f"batch size (default: {HEAD_BATCH_SIZE} head, else {ENCODER_BATCH_SIZE_CPU} CPU / "
        f"{ENCODER_BATCH_SIZE_GPU} GPU)",
    )
    lr: float = _opt(1e-3, "learning rate of the head (and LoRA adapters)")
    encoder_lr: float = _opt(3e-5, "learning rate of the encoder in full mode")
    weight_decay: float = _opt(0.01, "AdamW weight decay")
    warmup_fraction: float = _opt(0.06, "share of steps with linear warm-up")
    grad_clip: float = _opt(1.0, "gradient norm clip")
    churn_weight: float = _opt(1.0, "weight of the churn loss next to the ZILN loss")
    lora_rank: int = _opt(8, "LoRA rank (mode=lora)")
    lora_alpha: int | None = _opt(
        None, f"LoRA alpha, the adapters' scale numerator (default: {LORA_ALPHA_PER_RANK} x rank)"
    )
    lora_dropout: float = _opt(0.05, "dropout on the LoRA adapters' input")
    lr_floor: float = _opt(
        0.05, "the learning-rate schedule decays linearly to this fraction of the peak, no lower"
    )
    min_improvement: float = _opt(
        1e-4, "early stopping: a smaller drop of the validation loss does not count as better"
    )
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
    checkpoint: str = _opt(
        "auto",
        "save resumable state in <output-dir>/checkpoint/ at each epoch end (auto: when the "
        "encoder trains, i.e. lora and full modes); removed once the artifact is written",
        choices=CHECKPOINTING,
    )
    checkpoint_every_steps: int | None = _opt(
        None, "also save the checkpoint every this many optimiser steps (default: epoch ends only)"
    )
    resume: bool = _opt(
        False,
        "continue the training whose checkpoint is in <output-dir>/checkpoint/ (same options "
        "and warehouse; anything else is refused)",
    )

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.validation not in PROTOCOLS:
            raise ValueError(f"validation must be one of {PROTOCOLS}")
        if not 0 < self.test_fraction < 1 or not 0 < self.early_stopping_fraction < 1:
            raise ValueError("test_fraction and early_stopping_fraction must be in (0, 1)")
        if self.max_length < 8 or self.epochs < 1 or min(self.patience, self.sequence_patience) < 1:
            raise ValueError(
                "max_length >= 8, epochs >= 1 and patience, sequence_patience >= 1 are required"
            )
        if self.grid not in GRIDS:
            raise ValueError(f"grid must be one of {GRIDS}")
        if self.checkpoint not in CHECKPOINTING:
            raise ValueError(f"checkpoint must be one of {CHECKPOINTING}")
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps < 1:
            raise ValueError("checkpoint_every_steps must be >= 1")
        if not 0 <= self.lr_floor <= 1 or not 0 <= self.lora_dropout < 1:
            raise ValueError("lr_floor must be in [0, 1] and lora_dropout in [0, 1)")
        unknown = set(self.variant_list) - set(VARIANTS)
        if unknown or not self.variant_list:
            raise ValueError(f"variants must be auto or among {VARIANTS}, not {self.variants!r}")
        if (
            self.sequence_width % self.sequence_heads
            or min(
                self.sequence_width, self.sequence_layers, self.event_text_dim, self.pretrain_epochs
            )
            < 1
        ):
            raise ValueError(
                "sequence_width must be a multiple of sequence_heads; sequence_layers, "
                "event_text_dim and pretrain_epochs must be >= 1"
            )

    @property
    def variant_list(self) -> list[str]:
        """The variants to train: those asked for, plus numeric-only when the text gate needs
        it to compare against."""
        listed = []
        for name in (v.strip() for v in self.variants.split(",")):
            for variant in AUTO_VARIANTS if name == "auto" else (name,) if name else ():
                if variant not in listed:
                    listed.append(variant)
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
            return HEAD_BATCH_SIZE
        return ENCODER_BATCH_SIZE_GPU if on_gpu else ENCODER_BATCH_SIZE_CPU

    @property
    def resolved_lora_alpha(self) -> int:
        return self.lora_alpha or LORA_ALPHA_PER_RANK * self.lora_rank

    def checkpoints_on(self, mode: str) -> bool:
        """Whether to save resumable state, for the resolved `mode` (resume implies it)."""
        return (
            self.resume
            or self.checkpoint == "on"
            or (self.checkpoint == "auto" and mode in ("lora", "full"))
        )

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


# Option groups of `python -m training --help`, in order; every field is in one.
OPTION_GROUPS: dict[str, tuple[str, ...]] = {
    "data": ("database", "cutoff", "max_examples", "max_length"),
    "model": (
        "base_model", "mode", "hidden", "numeric_blocks", "dropout", "bins", "bgnbd_features",
        "lora_rank", "lora_alpha", "lora_dropout", "precision", "device",
    ),
    "behaviour encoder": (
        "sequence_encoder", "sequence_width", "sequence_layers", "sequence_heads",
        "event_text_dim", "sequence_lr", "sequence_patience", "pretrain_epochs", "pretrain_lr",
        "pretrain_seconds",
    ),
    "selection and evaluation": (
        "validation", "test_fraction", "early_stopping_fraction", "grid", "variants", "refit",
        "text_gate", "bootstrap_samples", "baselines",
    ),
    "optimisation": (
        "epochs", "patience", "batch_size", "lr", "encoder_lr", "weight_decay",
        "warmup_fraction", "lr_floor", "grad_clip", "churn_weight", "min_improvement",
        "max_steps", "seed",
    ),
    "output": ("output_dir", "report_dir", "export_predictions", "progress"),
    "checkpoints": ("checkpoint", "checkpoint_every_steps", "resume"),
}  # fmt: skip


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" unless the help already names its default or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _value_type(annotation: object) -> type:
    """The argparse type of a field annotation: `int | None` -> int, `Path` -> Path, ..."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    kind = options[0] if options else annotation
    return kind if isinstance(kind, type) and kind in (int, float, str, Path, bool) else str


def _field_default(f) -> object:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def read_config_file(path: Path) -> dict:
    """A JSON object whose keys are TrainConfig fields (unknown keys are an error)."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"--config {path}: {error}") from error
    known = {f.name for f in fields(TrainConfig)}
    if not isinstance(values, dict) or set(values) - known:
        unknown = sorted(set(values) - known) if isinstance(values, dict) else values
        raise SystemExit(f"--config {path}: unknown option(s) {unknown}; see --help")
    return values


def build_parser(
    prog: str = "python -m training", description: str | None = None, epilog: str | None = None
) -> argparse.ArgumentParser:
    """The training CLI: one option per TrainConfig field, typed from its annotation."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description or TrainConfig.__doc__,
        epilog=epilog,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE",
        help="JSON file of options (field names as keys); options given here override it",
    )  # fmt: skip
    hints = typing.get_type_hints(TrainConfig)
    by_name = {f.name: f for f in fields(TrainConfig)}
    for title, names in OPTION_GROUPS.items():
        group = parser.add_argument_group(title)
        for name in names:
            f = by_name[name]
            flag, default = "--" + name.replace("_", "-"), _field_default(f)
            kind = _value_type(hints[name])
            if kind is bool:
                group.add_argument(
                    flag, action=argparse.BooleanOptionalAction, default=default,
                    help=f.metadata["help"],
                )  # fmt: skip
                continue
            group.add_argument(
                flag, type=kind, default=default, help=f.metadata["help"],
                choices=f.metadata.get("choices"),
            )  # fmt: skip
    return parser


def _typed(values: dict) -> dict:
    """JSON values as the parser holds them (paths as Path)."""
    hints = typing.get_type_hints(TrainConfig)
    return {k: Path(v) if _value_type(hints[k]) is Path and v else v for k, v in values.items()}


def parse_args(
    argv: list[str] | None = None,
    parser: argparse.ArgumentParser | None = None,
    defaults: dict | None = None,
) -> TrainConfig:
    """TrainConfig from the command line (and `--config FILE`); imports no torch.
    Precedence: command line, then --config FILE, then `defaults`, then the field defaults."""
    parser = parser or build_parser()
    if defaults:
        parser.set_defaults(**_typed(defaults))
    args = parser.parse_args(argv)
    if args.config:
        parser.set_defaults(**_typed(read_config_file(args.config)))
        args = parser.parse_args(argv)
    options = vars(args)
    options.pop("config")
    return TrainConfig(**options)
