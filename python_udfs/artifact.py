"""Model artifacts: a directory with model.safetensors, config.json and the tokenizer.

Layout of ``<artifacts>/<model_version>/``::

    model.safetensors   every weight (encoder included): scoring needs no base-model package
    config.json         ArtifactConfig: base model, mode, feature names + scaler, horizons, ...
    encoder/config.json the Hugging Face config of the encoder (architecture only)
    tokenizer/          the tokenizer files

``<artifacts>/current`` is a one-line text file naming the version that scoring uses.
Never pickle, never ``trust_remote_code``. Reading and checking config.json and the encoder
fingerprint import neither torch nor transformers; building the model does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import struct
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from python_udfs.features import FeatureScaler
from python_udfs.hardware import PRECISIONS
from python_udfs.schema import LENGTH_STEP, MIN_BATCH_ROWS, SEQUENCE_INPUTS

if TYPE_CHECKING:  # torch and transformers load only when a model does (python_udfs.plugin)
    import torch
    from transformers import PreTrainedTokenizerBase

    from python_udfs.model import ClvModel
    from python_udfs.sequence import SequenceSpec

ARTIFACT_FORMAT = 2  # 2: encoded numeric features (PLE, BG/NBD inputs), residual tower
CURRENT_POINTER = "current"
DEFAULT_ARTIFACTS_DIR = Path("artifacts")
TRAIN_COMMAND = "make train  (or: .venv/bin/python -m training)"
# A model version and a feature name are the only artifact values that reach SQL; they must be
# plain identifiers (and are compared with the warehouse's own list before use).
MODEL_VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FEATURE_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,127}")
WEIGHTS_FEATURES_KEY = "clv_feature_names"


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
    precision: str = "fp32"  # the encoder's autocast in training; scoring uses the same
    format_version: int = ARTIFACT_FORMAT
    # Sequence models: python_udfs.sequence.SequenceSpec's fields, plus the fingerprint of the
    # event-text encoder whose embeddings it read (None: no event text) and `pretrained`.
    sequence: dict | None = None

    def sequence_spec(self) -> SequenceSpec | None:
        if not self.sequence:
            return None
        from python_udfs.sequence import SequenceSpec

        names = {f.name for f in fields(SequenceSpec)}
        return SequenceSpec(**{k: v for k, v in self.sequence.items() if k in names})

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
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": "pt", WEIGHTS_FEATURES_KEY: json.dumps(config.feature_names)}
    save_file(state, str(directory / "model.safetensors"), metadata=metadata)
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


def check_model_version(version: object, where: str) -> str:
    """`version` if it is a plain identifier (it names a folder and enters SQL), else an error."""
    if not isinstance(version, str) or not MODEL_VERSION_PATTERN.fullmatch(version):
        raise ArtifactError(
            f"{where}: model version {str(version)[:80]!r} is not a plain name "
            f"(letters, digits, '.', '_', '-'; at most 128); retrain with {TRAIN_COMMAND}"
        )
    return version


def resolve_artifact(path: Path | str) -> Path:
    """An artifact directory, or a directory of artifacts with a `current` pointer naming a
    version folder directly inside it (no path, no link leading out of the folder)."""
    path = Path(path)
    if (path / "config.json").is_file() and (path / "model.safetensors").exists():
        return path
    pointer = path / CURRENT_POINTER
    if pointer.is_file():
        version = check_model_version(pointer.read_text().strip(), str(pointer))
        target = path / version
        if target.resolve().parent != path.resolve():
            raise ArtifactError(
                f"{pointer} names {version!r}, which resolves to {target.resolve()}, outside "
                f"{path.resolve()}; point it at a version folder inside it"
            )
        if (target / "config.json").is_file():
            return target
        raise ArtifactError(f"{pointer} names {target.name!r}, which is not an artifact")
    raise ArtifactError(
        f"no trained model at {path.resolve()} (expected model.safetensors + config.json, or a "
        f"'{CURRENT_POINTER}' pointer). Train one with: {TRAIN_COMMAND}"
    )


SCALER_KEYS = frozenset({"names", "means", "stds"})
SCALER_OPTIONAL_KEYS = frozenset({"edges", "bgnbd", "derived"})


def _check_scaler(scaler: object, where: str) -> None:
    """The numeric encoding of config.json: the model's feature names (plain identifiers, in
    order), one mean and std per encoded feature (the names plus any BG/NBD-derived inputs),
    optional quantile edges and BG/NBD parameters, all consistent with each other."""
    if not isinstance(scaler, dict) or not set(scaler) >= SCALER_KEYS:
        raise ArtifactError(f"{where}: 'scaler' must be an object with names, means and stds")
    unknown = sorted(set(scaler) - SCALER_KEYS - SCALER_OPTIONAL_KEYS)
    if unknown:
        raise ArtifactError(f"{where}: unknown key(s) in 'scaler': {unknown}")
    names, means, stds = scaler["names"], scaler["means"], scaler["stds"]
    if not all(isinstance(v, list) for v in (names, means, stds)) or len(means) != len(stds):
        raise ArtifactError(
            f"{where}: scaler names, means and stds must be lists (one mean per std)"
        )
    bad = [n for n in names if not isinstance(n, str) or not FEATURE_NAME_PATTERN.fullmatch(n)]
    if bad:
        raise ArtifactError(f"{where}: feature names that are not plain identifiers: {bad[:5]}")
    if len(set(names)) != len(names):
        raise ArtifactError(f"{where}: repeated feature names in scaler.names")
    numbers = [*means, *stds]
    if not all(isinstance(v, int | float) and v == v and abs(v) != float("inf") for v in numbers):
        raise ArtifactError(f"{where}: scaler means and stds must be finite numbers")
    try:
        FeatureScaler.from_dict(scaler)
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"{where}: inconsistent 'scaler': {error}") from error


def _check_sequence(raw: dict, where: str) -> None:
    """A sequence model has a valid `sequence` entry, and only a sequence model has one."""
    sequence, inputs = raw.get("sequence"), raw.get("inputs", "fused")
    if (inputs in SEQUENCE_INPUTS) != bool(sequence):
        raise ArtifactError(
            f"{where}: inputs {inputs!r} and the 'sequence' entry disagree; retrain with "
            f"{TRAIN_COMMAND}"
        )
    if not sequence:
        return
    from python_udfs.sequence import SequenceSpec

    try:
        names = {f.name for f in fields(SequenceSpec)}
        spec = SequenceSpec(**{k: v for k, v in sequence.items() if k in names})
    except (TypeError, ValueError) as error:
        raise ArtifactError(f"{where}: invalid 'sequence' entry: {error}") from error
    if spec.uses_text != (inputs == "sequence_text") or (
        spec.uses_text and not sequence.get("event_text_encoder_fingerprint")
    ):
        raise ArtifactError(
            f"{where}: the 'sequence' entry's text input does not match inputs {inputs!r}"
        )


def read_config(directory: Path) -> ArtifactConfig:
    """config.json as an ArtifactConfig; any problem (not JSON, unknown or missing key, a value
    of the wrong type) is an ArtifactError naming the file."""
    path = Path(directory) / "config.json"
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"cannot read {path}: {error}") from error
    if not isinstance(raw, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    if raw.get("format_version") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{path}: artifact format {raw.get('format_version')!r}, expected {ARTIFACT_FORMAT}; "
            f"retrain with {TRAIN_COMMAND}"
        )
    known = {f.name for f in fields(ArtifactConfig)}
    required = {
        f.name
        for f in fields(ArtifactConfig)
        if f.default is MISSING and f.default_factory is MISSING
    }
    unknown, missing = sorted(set(raw) - known), sorted(required - set(raw))
    if unknown or missing:
        raise ArtifactError(
            f"{path}: unknown key(s) {unknown}, missing key(s) {missing}; "
            f"retrain with {TRAIN_COMMAND}"
        )
    check_model_version(raw["model_version"], str(path))
    _check_scaler(raw["scaler"], str(path))
    _check_sequence(raw, str(path))
    for key in ("horizon_days", "churn_horizon_days"):
        value = raw[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ArtifactError(f"{path}: {key} must be a whole number of days, not {value!r}")
    if not isinstance(raw["text_template_version"], str):
        raise ArtifactError(f"{path}: text_template_version must be a string")
    if raw.get("precision", "fp32") not in PRECISIONS:
        raise ArtifactError(f"{path}: precision must be one of {PRECISIONS}")
    return ArtifactConfig(**raw)


def check_weights_features(metadata: dict, config: ArtifactConfig, directory: Path) -> None:
    """The weights record the feature order they were trained with: config.json must list the
    same names in the same order (a reordered list would feed each weight another feature)."""
    recorded = metadata.get(WEIGHTS_FEATURES_KEY)
    if recorded is None:
        return  # written before the order was recorded; the warehouse check still applies
    if json.loads(recorded) != config.feature_names:
        raise ArtifactError(
            f"{directory / 'config.json'} lists the features as {config.feature_names}, but "
            f"{directory / 'model.safetensors'} was trained on {json.loads(recorded)} (in this "
            f"order); restore config.json or retrain with {TRAIN_COMMAND}"
        )


def load_artifact(
    path: Path | str, device: str | torch.device = "cpu", config: ArtifactConfig | None = None
) -> tuple[ClvModel, PreTrainedTokenizerBase, ArtifactConfig]:
    """Rebuild the model from an artifact (no download, no remote code), in eval mode.
    `config`: the artifact's config.json when the caller has read it already."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from python_udfs.model import ClvModel

    directory = resolve_artifact(path)
    config = config or read_config(directory)
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
        sequence=config.sequence_spec(),
    )
    weights = directory / "model.safetensors"
    try:
        state = load_file(str(weights))
        with safe_open(str(weights), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ArtifactError(f"cannot read {weights}: {error}") from error
    check_weights_features(metadata, config, directory)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ArtifactError(
            f"{directory / 'model.safetensors'} does not match its config.json "
            f"(missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]})"
        )
    tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer", trust_remote_code=False)
    return model.to(device).eval(), tokenizer, config


ENCODER_PREFIX = "encoder."
HEADER_BYTES = 8  # safetensors: u64 little-endian header length, JSON header, raw tensor data
HASH_BLOCK = 1 << 22


def _weights_header(weights: Path) -> tuple[dict, int]:
    """The safetensors JSON header of `weights` and the offset where tensor data starts."""
    with weights.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(HEADER_BYTES))
        header = json.loads(handle.read(size))
    return header, HEADER_BYTES + size


@functools.lru_cache(maxsize=8)
def _fingerprint(weights: Path, stamp: tuple[int, int], tokenizer: Path, recipe: str) -> str:
    digest = hashlib.blake2b(recipe.encode(), digest_size=16)
    try:
        header, start = _weights_header(weights)
        with weights.open("rb") as handle:
            for name in sorted(k for k in header if k.startswith(ENCODER_PREFIX)):
                entry = header[name]
                digest.update(json.dumps([name, entry["dtype"], entry["shape"]]).encode())
                begin, end = entry["data_offsets"]
                handle.seek(start + begin)
                for offset in range(begin, end, HASH_BLOCK):
                    digest.update(handle.read(min(HASH_BLOCK, end - offset)))
        for file in sorted(p for p in tokenizer.rglob("*") if p.is_file()):
            digest.update(file.name.encode() + file.read_bytes())
    except (OSError, ValueError, KeyError, struct.error) as error:
        raise ArtifactError(f"cannot read the encoder weights in {weights}: {error}") from error
    return "enc-" + digest.hexdigest()


def encoder_fingerprint(path: Path | str, config: ArtifactConfig) -> str:
    """Identity of the text embeddings this artifact computes: a hash of its encoder weights,
    tokenizer, pooling, max_length, precision and encoding rule. Models that share a frozen
    encoder share it, so their embeddings are reused; a fine-tuned encoder gets its own.
    Reads the weights file directly (no torch)."""
    directory = resolve_artifact(path)
    weights = directory / "model.safetensors"
    stat = weights.stat()
    recipe = json.dumps(
        [config.pooling, config.max_length, config.precision, LENGTH_STEP, MIN_BATCH_ROWS],
        sort_keys=True,
    )
    return _fingerprint(
        weights.resolve(), (stat.st_mtime_ns, stat.st_size), directory / "tokenizer", recipe
    )
