"""Score customers: an Arrow table of behaviour text + numeric features in, predictions out.

Engine-agnostic (DuckDB UDFs, Spark mapInArrow, plain Python). Scoring has two parts:

* ``embed(texts)``: the encoder, the only expensive part; each distinct text is encoded once
  (python_udfs.encoding's fixed rule) and cached by text across calls;
* ``score_embedded(embeddings, table)``: the head on precomputed embeddings, cheap.

``score(table)`` does both. A sequence model (python_udfs.sequence) reads no behaviour text:
its "embedding" is the behaviour encoder's vector of the customer's events,
``embed_events(events)``, and ``project_event_texts`` maps frozen event-text embeddings to
the vectors those events carry. Deterministic to the bit and thread-safe.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from python_udfs.artifact import (
    ArtifactConfig,
    FeatureSchemaError,
    check_feature_schema,
    encoder_fingerprint,
    load_artifact,
)
from python_udfs.encoding import encode_texts, predict_from_embeddings
from python_udfs.event_scoring import EVENT_FIELDS, events_from_arrow
from python_udfs.features import FeatureScaler
from python_udfs.hardware import default_device
from python_udfs.reasons import (
    EMPTY_TEXT,
    EVENTS_DRIVER,
    TEXT_DRIVER,
    DriverEffects,
    Head,
    check_finite_effects,
    driver_effects,
)
from python_udfs.schema import OUTPUT_SCHEMA, TEXT_COLUMN
from python_udfs.sequence import encode_in_chunks

EMBEDDING_CACHE_TEXTS = 200_000


class ScoringError(RuntimeError):
    """The model produced scores that must not be written (NaN or infinite)."""


def check_finite(out: dict[str, np.ndarray], model_version: str, where: Path | str) -> None:
    """Raise ScoringError naming the model when any score is NaN or infinite."""
    bad = {name: int((~np.isfinite(values)).sum()) for name, values in out.items()}
    bad = {name: count for name, count in bad.items() if count}
    if bad:
        counts = ", ".join(f"{name}: {count}" for name, count in bad.items())
        raise ScoringError(
            f"model {model_version} ({where}) produced NaN or infinite scores ({counts} of "
            f"{len(next(iter(out.values())))} rows); nothing was written. Its weights are "
            f"probably corrupt or diverged: retrain (make train) or point artifacts/current at "
            f"a good version"
        )


class Scorer:
    """A loaded artifact that embeds texts and scores Arrow batches.

    `score(table)` takes a table with `behaviour_text` and the artifact's numeric feature
    columns (extra columns are ignored, missing ones are an error) and returns a table of
    OUTPUT_SCHEMA with one row per input row.
    """

    def __init__(
        self,
        artifact: Path | str,
        device: str | torch.device | None = None,
        cache_size: int = EMBEDDING_CACHE_TEXTS,
        config: ArtifactConfig | None = None,
    ) -> None:
        self.device = default_device(str(device) if device else None)
        self.model, self.tokenizer, self.config = load_artifact(artifact, self.device, config)
        self.path = Path(artifact)
        self.scaler = FeatureScaler.from_dict(self.config.scaler)
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def feature_names(self) -> list[str]:
        return self.config.feature_names

    @property
    def model_version(self) -> str:
        return self.config.model_version

    @property
    def uses_text(self) -> bool:
        """Whether the model reads the behaviour text (its embedding from the encoder)."""
        return self.model.uses_text

    @property
    def uses_events(self) -> bool:
        """Whether the model reads the event sequence (its vector from embed_events)."""
        return self.model.sequence is not None

    @property
    def uses_embedding(self) -> bool:
        return self.model.uses_embedding

    @property
    def embedding_dim(self) -> int:
        if self.model.sequence is not None:
            return self.model.sequence.spec.width
        return int(self.model.encoder.config.hidden_size)

    @property
    def event_text_dim(self) -> int | None:
        """Size of the projected event-text vectors (None: the model reads no event text)."""
        sequence = self.model.sequence
        return sequence.spec.text_dim if sequence is not None and sequence.spec.uses_text else None

    def embed_events(self, events: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Behaviour-encoder vectors [N, width] of N event lists (python_udfs.event_scoring),
        each row independent of the others of the call."""
        sequence = self.model.sequence
        if sequence is None:
            raise ValueError(f"model {self.model_version} reads no event sequence")
        batch = events_from_arrow(events, sequence.spec.max_events, self.event_text_dim)
        with self._lock, torch.inference_mode():
            rows = encode_in_chunks(sequence, batch, self.device).numpy()
        if not np.isfinite(rows).all():
            raise ScoringError(
                f"model {self.model_version} ({self.path}) gave NaN or infinite sequence "
                f"vectors; its weights are corrupt: retrain (make train)"
            )
        return rows

    def project_event_texts(self, embeddings: np.ndarray) -> np.ndarray:
        """The model's vectors [N, text_dim] of frozen event-text embeddings [N, D] (one
        linear map per row: each row independent of the others)."""
        sequence = self.model.sequence
        if sequence is None or not sequence.spec.uses_text:
            raise ValueError(f"model {self.model_version} reads no event text")
        with self._lock, torch.inference_mode():
            matrix = torch.from_numpy(np.array(embeddings, dtype=np.float32))
            weight = sequence.text_projection.weight.detach().cpu()
            # row by row through one fixed-shape product: batch size never changes a row's bits
            return (
                torch.stack([weight @ row for row in matrix]).numpy()
                if len(matrix)
                else (np.zeros((0, weight.shape[0]), np.float32))
            )

    @property
    def encoder_fingerprint(self) -> str:
        return encoder_fingerprint(self.path, self.config)

    def check_columns(self, columns: Sequence[str], text: bool = True) -> None:
        """Raise FeatureSchemaError unless every model feature (and the text, when `text`) is
        in `columns`."""
        if text and TEXT_COLUMN not in columns:
            raise FeatureSchemaError(f"scoring input lacks the {TEXT_COLUMN} column")
        features = [c for c in columns if c != TEXT_COLUMN]
        if any(name not in features for name in self.feature_names):
            check_feature_schema(self.feature_names, features)

    def embed(self, texts: Sequence[str | None]) -> np.ndarray:
        """Embeddings [N, H] (float32) of `texts` (None counts as ""), encoding only distinct
        texts not in the cache; each row depends on its own text only."""
        strings = [t if t is not None else "" for t in texts]
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in strings]
        with self._lock:
            todo = {k: t for k, t in zip(keys, strings, strict=True) if k not in self._cache}
            if todo:
                fresh = encode_texts(
                    self.model,
                    self.tokenizer,
                    list(todo.values()),
                    self.config.max_length,
                    self.config.precision,
                    self.device,
                ).numpy()
                for key, row in zip(todo, fresh, strict=True):
                    self._cache[key] = row.copy()  # not a view that pins the whole batch
            for key in keys:
                self._cache.move_to_end(key)
            rows = np.stack([self._cache[key] for key in keys]) if keys else self._empty()
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if not np.isfinite(rows).all():
            raise ScoringError(
                f"model {self.model_version} ({self.path}) gave NaN or infinite text "
                f"embeddings; its encoder weights are corrupt: retrain (make train)"
            )
        return rows

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.embedding_dim), dtype=np.float32)

    def score_embedded(
        self, embeddings: np.ndarray | None, table: pa.Table | pa.RecordBatch
    ) -> pa.Table:
        """Scores of `table`'s feature columns with precomputed `embeddings` [N, H] (ignored,
        and may be None, for a numeric-only model)."""
        self.check_columns(table.schema.names, text=False)
        n = table.num_rows
        if n == 0:
            return OUTPUT_SCHEMA.empty_table()
        if not self.uses_embedding or embeddings is None:
            if self.uses_embedding:
                raise ValueError(
                    f"model {self.model_version} reads "
                    f"{'events' if self.uses_events else 'text'}: pass its embeddings"
                )
            embeddings = np.zeros((n, 1), dtype=np.float32)
        numeric = self._numeric(table)
        with self._lock:
            out = predict_from_embeddings(
                self.model,
                torch.from_numpy(np.array(embeddings, dtype=np.float32)),  # a writable copy
                self.scaler.transform(numeric),
                self.device,
                self.config.clv_scale,
            )
        check_finite(out, self.model_version, self.path)
        arrays = [pa.array(out[name]) for name in OUTPUT_SCHEMA.names[:-1]]
        arrays.append(pa.array([self.model_version] * n, pa.string()))
        return pa.Table.from_arrays(arrays, schema=OUTPUT_SCHEMA)

    def _numeric(self, table: pa.Table | pa.RecordBatch) -> np.ndarray:
        """[N, F] float64 raw features in model order (NULL -> NaN)."""
        return np.column_stack(
            [
                table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
                for name in self.feature_names
            ]
        )

    def driver_effects(
        self, embeddings: np.ndarray | None, table: pa.Table | pa.RecordBatch
    ) -> DriverEffects:
        """Occlusion effects of every driver on churn_probability and predicted_clv
        (python_udfs.reasons), same inputs as score_embedded; a text model adds the
        behaviour_text driver (its embedding replaced by the empty text's)."""
        self.check_columns(table.schema.names, text=False)
        if self.uses_embedding and embeddings is None:
            raise ValueError(f"model {self.model_version} reads text: pass its embeddings")
        numeric = self._numeric(table) if table.num_rows else np.zeros((0, len(self.feature_names)))
        empty = driver = None
        if self.uses_events:
            empty, driver = self.embed_events(pa.array([[]], self._events_type()))[0], EVENTS_DRIVER
        elif self.uses_text:
            empty, driver = self.embed([EMPTY_TEXT])[0], TEXT_DRIVER
        head = Head(self.model, self.device, self.config.clv_scale)
        with self._lock:
            effects = driver_effects(
                head,
                self.scaler,
                embeddings if self.uses_embedding else None,
                numeric,
                empty,
                driver or TEXT_DRIVER,
            )
        check_finite_effects(effects, self.model_version)
        return effects

    def _events_type(self) -> pa.DataType:
        fields = [
            pa.field("event_type", pa.string()),
            *(pa.field(n, pa.float64()) for n in EVENT_FIELDS[1:]),
        ]
        if self.event_text_dim:
            vector = pa.struct(
                [("vector", pa.list_(pa.float32(), self.event_text_dim)), ("weight", pa.float64())]
            )
            fields.append(pa.field("text_vectors", pa.list_(vector)))
        return pa.list_(pa.struct(fields))

    def score(self, table: pa.Table | pa.RecordBatch) -> pa.Table:
        """Scores of a table with `behaviour_text` and the feature columns."""
        if self.uses_events:
            raise ValueError(
                f"model {self.model_version} reads the event sequence, not the behaviour text: "
                "score it with clv_score_embedded(clv_embed_events(events), features), as the "
                "dbt model customer_scores does"
            )
        self.check_columns(table.schema.names)
        if table.num_rows == 0:
            return OUTPUT_SCHEMA.empty_table()
        embeddings = self.embed(table.column(TEXT_COLUMN).to_pylist()) if self.uses_text else None
        return self.score_embedded(embeddings, table)
