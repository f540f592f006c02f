"""Score customers: an Arrow table of behaviour text + numeric features in, predictions out.

Engine-agnostic (DuckDB UDFs, Spark mapInArrow, plain Python). Inside a call identical texts
are encoded once, texts are sorted by length and batched, and encoder outputs are cached by
text across calls; the numeric part is cheap. Deterministic and thread-safe.
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

from python_udfs.artifact import FeatureSchemaError, check_feature_schema, load_artifact
from python_udfs.features import FeatureScaler
from python_udfs.model import ClvModel
from python_udfs.ziln import ziln_expected_value, ziln_params, ziln_quantiles

TEXT_COLUMN = "behaviour_text"
OUTPUT_SCHEMA = pa.schema(
    [
        ("predicted_clv", pa.float64()),
        ("churn_probability", pa.float64()),
        ("purchase_probability", pa.float64()),
        ("clv_p10", pa.float64()),
        ("clv_p50", pa.float64()),
        ("clv_p90", pa.float64()),
        ("model_version", pa.string()),
    ]
)


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


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.inference_mode()
def encode_texts(
    model: ClvModel,
    tokenizer,
    texts: Sequence[str],
    max_length: int,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> torch.Tensor:
    """Pooled embeddings [N, H] (float32, CPU) of `texts`: each distinct text is encoded
    once, in batches of similar length."""
    from tqdm.auto import tqdm

    texts, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    lengths = [
        len(ids)
        for ids in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    ]
    order = np.argsort(lengths, kind="stable")
    out = torch.empty(len(texts), model.encoder.config.hidden_size)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=str(device).startswith("cuda"))
    batches = range(0, len(texts), batch_size)
    for start in tqdm(batches, desc="encoding texts", unit="batch", disable=not progress):
        idx = order[start : start + batch_size]
        batch = tokenizer(
            [texts[i] for i in idx],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        ).to(device)
        with autocast:
            emb = model.embed(batch["input_ids"], batch["attention_mask"])
        out[torch.as_tensor(idx)] = emb.float().cpu()
    return out[torch.as_tensor(inverse)]


@torch.inference_mode()
def predict_from_embeddings(
    model: ClvModel,
    embeddings: torch.Tensor,
    numeric: np.ndarray,
    device="cpu",
    clv_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Head outputs for precomputed embeddings [N,H] and scaled numeric features [N,F].

    `clv_scale` multiplies the revenue distribution (mu + log scale): the artifact's
    calibration of total predicted revenue on the training rows."""
    ziln, churn = model.head_forward(embeddings.to(device), torch.as_tensor(numeric, device=device))
    ziln, churn = ziln.float(), churn.float()
    ziln = ziln + torch.tensor([0.0, float(np.log(clv_scale)), 0.0], device=ziln.device)
    p, _, _ = ziln_params(ziln)
    q = ziln_quantiles(ziln, (0.1, 0.5, 0.9))
    return {
        "predicted_clv": ziln_expected_value(ziln).cpu().numpy().astype(np.float64),
        "churn_probability": torch.sigmoid(churn).cpu().numpy().astype(np.float64),
        "purchase_probability": p.cpu().numpy().astype(np.float64),
        "clv_p10": q[:, 0].cpu().numpy().astype(np.float64),
        "clv_p50": q[:, 1].cpu().numpy().astype(np.float64),
        "clv_p90": q[:, 2].cpu().numpy().astype(np.float64),
    }


class Scorer:
    """A loaded artifact that scores Arrow batches.

    `score(table)` takes a table with `behaviour_text` and the artifact's numeric feature
    columns (in its order; extra columns are ignored, missing ones are an error) and returns a
    table of OUTPUT_SCHEMA with one row per input row.
    """

    def __init__(
        self,
        artifact: Path | str,
        device: str | torch.device | None = None,
        batch_size: int = 64,
        cache_size: int = 200_000,
    ) -> None:
        self.device = torch.device(device) if device else default_device()
        self.model, self.tokenizer, self.config = load_artifact(artifact, self.device)
        self.path = Path(artifact)
        self.scaler = FeatureScaler.from_dict(self.config.scaler)
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def feature_names(self) -> list[str]:
        return self.config.feature_names

    @property
    def model_version(self) -> str:
        return self.config.model_version

    def check_columns(self, columns: Sequence[str]) -> None:
        """Raise FeatureSchemaError unless the text and every model feature are in `columns`."""
        if TEXT_COLUMN not in columns:
            raise FeatureSchemaError(f"scoring input lacks the {TEXT_COLUMN} column")
        features = [c for c in columns if c != TEXT_COLUMN]
        if any(name not in features for name in self.feature_names):
            check_feature_schema(self.feature_names, features)

    def _embeddings(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of texts [N, H], computing only unique, uncached ones."""
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        todo = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._cache and key not in todo:
                todo[key] = text
        if todo:
            fresh = encode_texts(
                self.model,
                self.tokenizer,
                list(todo.values()),
                self.config.max_length,
                self.batch_size,
                self.device,
            )
            for key, emb in zip(todo, fresh, strict=True):
                self._cache[key] = emb.clone()  # not a view that pins the whole batch
        for key in keys:
            self._cache.move_to_end(key)
        rows = torch.stack([self._cache[key] for key in keys])
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return rows

    def score(self, table: pa.Table | pa.RecordBatch) -> pa.Table:
        self.check_columns(table.schema.names)
        n = table.num_rows
        if n == 0:
            return OUTPUT_SCHEMA.empty_table()
        texts = [t if t is not None else "" for t in table.column(TEXT_COLUMN).to_pylist()]
        numeric = np.column_stack(
            [
                table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
                for name in self.feature_names
            ]
        )
        with self._lock:
            embeddings = self._embeddings(texts)
            out = predict_from_embeddings(
                self.model,
                embeddings,
                self.scaler.transform(numeric),
                self.device,
                self.config.clv_scale,
            )
        check_finite(out, self.model_version, self.path)
        arrays = [pa.array(out[name]) for name in OUTPUT_SCHEMA.names[:-1]]
        arrays.append(pa.array([self.model_version] * n, pa.string()))
        return pa.Table.from_arrays(arrays, schema=OUTPUT_SCHEMA)
