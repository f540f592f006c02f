"""Model artifacts: a directory with model.safetensors, config.json and the tokenizer.

Layout of ``<artifacts>/<model_version>/``::

    model.safetensors   every weight (encoder included): scoring needs no base-model package
    config.json         ArtifactConfig: base model, mode, feature names + scaler, horizons, ...
    encoder/config.json the Hugging Face config of the encoder (architecture only)
    tokenizer/          the tokenizer files

``<artifacts>/current`` is a one-line text file naming the version that scoring uses.
Never pickle, never ``trust_remote_code``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from python_udfs.features import FeatureScaler
from python_udfs.model import ClvModel

ARTIFACT_FORMAT = 2  # 2: encoded numeric features (PLE, BG/NBD inputs), residual tower
CURRENT_POINTER = "current"
DEFAULT_ARTIFACTS_DIR = Path("artifacts")
TRAIN_COMMAND = "make train  (or: .venv/bin/python -m training)"


class ArtifactError(RuntimeError):
    """A model artifact is missing, incomplete or unreadable."""


class FeatureSchemaError(ValueError):
    """The features offered for scoring differ from those the model was trained on."""


@dataclass
class ArtifactConfig:
    """Everything needed to rebuild and feed the model; written as config.json."""

    model_version: str
    base_model: str
    mode: str
    pooling: str
    max_length: int
    hidden: int
    dropout: float
    scaler: dict
    text_template_version: str
    horizon_days: int | None
    churn_horizon_days: int | None
    data_fingerprint: str
    clv_scale: float = 1.0
    numeric_blocks: int = 2
    inputs: str = "fused"
    selection: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    format_version: int = ARTIFACT_FORMAT

    @property
    def feature_names(self) -> list[str]:
        return list(self.scaler["names"])


def check_feature_schema(expected: list[str], offered: list[str]) -> None:
    """Raise FeatureSchemaError naming the columns unless `offered` equals `expected`."""
    if list(offered) == list(expected):
        return
    missing = [c for c in expected if c not in offered]
    unexpected = [c for c in offered if c not in expected]
    parts = []
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
    if unexpected:
        parts.append(f"not in the model: {', '.join(unexpected)}")
    if not parts:
        parts.append(f"order differs; the model expects: {', '.join(expected)}")
    raise FeatureSchemaError(
        "feature schema mismatch between the warehouse and the model artifact ("
        + "; ".join(parts)
        + f"). Retrain with {TRAIN_COMMAND} on the current feature tables."
    )


def save_artifact(
    directory: Path, model: ClvModel, tokenizer: PreTrainedTokenizerBase, config: ArtifactConfig
) -> Path:
    """Write the artifact directory; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    model.encoder.config.save_pretrained(directory / "encoder")
    tokenizer.save_pretrained(directory / "tokenizer")
    (directory / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    return directory


def set_current(artifacts_dir: Path, model_version: str) -> None:
    """Point `<artifacts_dir>/current` at a version (atomically)."""
    pointer = Path(artifacts_dir) / CURRENT_POINTER
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(model_version + "\n")
    os.replace(tmp, pointer)


def resolve_artifact(path: Path | str) -> Path:
    """An artifact directory, or a directory of artifacts with a `current` pointer."""
    path = Path(path)
    if (path / "config.json").is_file() and (path / "model.safetensors").exists():
        return path
    pointer = path / CURRENT_POINTER
    if pointer.is_file():
        target = path / pointer.read_text().strip()
        if (target / "config.json").is_file():
            return target
        raise ArtifactError(f"{pointer} names {target.name!r}, which is not an artifact")
    raise ArtifactError(
        f"no trained model at {path.resolve()} (expected model.safetensors + config.json, or a "
        f"'{CURRENT_POINTER}' pointer). Train one with: {TRAIN_COMMAND}"
    )


def read_config(directory: Path) -> ArtifactConfig:
    raw = json.loads((Path(directory) / "config.json").read_text())
    if raw.get("format_version") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{directory}: artifact format {raw.get('format_version')}, expected {ARTIFACT_FORMAT}"
        )
    return ArtifactConfig(**raw)


def load_artifact(
    path: Path | str, device: str | torch.device = "cpu"
) -> tuple[ClvModel, PreTrainedTokenizerBase, ArtifactConfig]:
    """Rebuild the model from an artifact (no download, no remote code), in eval mode."""
    directory = resolve_artifact(path)
    config = read_config(directory)
    encoder_config = AutoConfig.from_pretrained(directory / "encoder", trust_remote_code=False)
    encoder = AutoModel.from_config(encoder_config, trust_remote_code=False)
    model = ClvModel(
        encoder,
        n_numeric=FeatureScaler.from_dict(config.scaler).width,
        hidden=config.hidden,
        dropout=config.dropout,
        pooling=config.pooling,
        numeric_blocks=config.numeric_blocks,
        inputs=config.inputs,
    )
    try:
        state = load_file(str(directory / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as error:
        raise ArtifactError(f"cannot read {directory / 'model.safetensors'}: {error}") from error
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ArtifactError(
            f"{directory / 'model.safetensors'} does not match its config.json "
            f"(missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]})"
        )
    tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer", trust_remote_code=False)
    return model.to(device).eval(), tokenizer, config
