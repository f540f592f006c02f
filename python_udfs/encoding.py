"""Text embeddings and head outputs, computed so that a row's result never depends on the
other rows of its call (deterministic to the bit across batchings).

Why a fixed rule: padding changes the encoder's floating-point sums, and matrix kernels pick
other code paths for very small batches. So every distinct text is encoded

* padded to its own *bucket length* (its token count rounded up to LENGTH_STEP), never to the
  longest text of the batch, and
* in a batch of its bucket with at least MIN_BATCH_ROWS rows (short batches are filled with
  copies of their last row, whose outputs are dropped);

and the head runs on fixed chunks of HEAD_CHUNK_ROWS rows (the last one zero-filled). A text
thus gets the same embedding and a customer the same score alone, in any batch, in one call
or several, in an incremental run or a full refresh (tests/test_determinism.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from python_udfs.hardware import autocast
from python_udfs.model import ClvModel
from python_udfs.schema import HEAD_CHUNK_ROWS, LENGTH_STEP, MAX_BATCH_ROWS, MIN_BATCH_ROWS
from python_udfs.ziln import ziln_expected_value, ziln_params, ziln_quantiles

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def bucket_length(n_tokens: int) -> int:
    """The padded length of a text of `n_tokens` tokens."""
    return max(LENGTH_STEP, math.ceil(n_tokens / LENGTH_STEP) * LENGTH_STEP)


def _batches(lengths: Sequence[int], batch_rows: int) -> Iterator[tuple[int, list[int]]]:
    """(bucket length, row indices) batches: rows grouped by bucket, in index order."""
    buckets: dict[int, list[int]] = defaultdict(list)
    for index, n_tokens in enumerate(lengths):
        buckets[bucket_length(n_tokens)].append(index)
    for length in sorted(buckets):
        rows = buckets[length]
        for start in range(0, len(rows), batch_rows):
            yield length, rows[start : start + batch_rows]


def _padded_batch(
    ids: list[list[int]], rows: list[int], length: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask [max(len(rows), MIN_BATCH_ROWS), length]."""
    filled = rows + [rows[-1]] * (MIN_BATCH_ROWS - len(rows))
    input_ids = torch.full((len(filled), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(filled), length), dtype=torch.long)
    for position, row in enumerate(filled):
        tokens = ids[row]
        input_ids[position, : len(tokens)] = torch.as_tensor(tokens)
        mask[position, : len(tokens)] = 1
    return input_ids, mask


@torch.inference_mode()
def encode_texts(
    model: ClvModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    precision: str = "fp32",
    device: torch.device | str = "cpu",
    progress: bool = False,
    batch_rows: int = MAX_BATCH_ROWS,
) -> torch.Tensor:
    """Pooled embeddings [N, H] (float32, CPU) of `texts`, each distinct text encoded once by
    the fixed rule of this module, with the autocast of `precision` (fp32 / bf16)."""
    from tqdm.auto import tqdm

    unique, inverse = np.unique(np.asarray(list(texts), dtype=object), return_inverse=True)
    ids = tokenizer(list(unique), truncation=True, max_length=max_length)["input_ids"]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out = torch.empty(len(unique), model.encoder.config.hidden_size)
    batches = list(_batches([len(tokens) for tokens in ids], max(batch_rows, MIN_BATCH_ROWS)))
    for length, rows in tqdm(batches, desc="encoding texts", unit="batch", disable=not progress):
        input_ids, mask = _padded_batch(ids, rows, length, pad_id)
        with autocast(precision, device):
            embedding = model.embed(input_ids.to(device), mask.to(device))
        out[torch.as_tensor(rows)] = embedding[: len(rows)].float().cpu()
    return out[torch.as_tensor(inverse.reshape(-1))]


@torch.inference_mode()
def predict_from_embeddings(
    model: ClvModel,
    embeddings: torch.Tensor,
    numeric: np.ndarray | torch.Tensor,
    device: torch.device | str = "cpu",
    clv_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """Head outputs for embeddings [N, H] and scaled numeric features [N, F], in fixed chunks
    of HEAD_CHUNK_ROWS rows.

    `clv_scale` multiplies the revenue distribution (mu + log scale): the artifact's
    calibration of total predicted revenue on the training rows."""
    n = len(numeric)
    padded = math.ceil(max(n, 1) / HEAD_CHUNK_ROWS) * HEAD_CHUNK_ROWS
    numeric_rows = torch.nn.functional.pad(
        torch.as_tensor(numeric, dtype=torch.float32), (0, 0, 0, padded - n)
    )
    embedding_rows = torch.nn.functional.pad(
        torch.as_tensor(embeddings, dtype=torch.float32), (0, 0, 0, padded - len(embeddings))
    )
    parts = []
    for start in range(0, padded, HEAD_CHUNK_ROWS):
        chunk = slice(start, start + HEAD_CHUNK_ROWS)
        ziln, churn = model.head_forward(
            embedding_rows[chunk].to(device), numeric_rows[chunk].to(device)
        )
        parts.append((ziln.float().cpu(), churn.float().cpu()))
    # Element-wise functions (exp, erfinv, sigmoid) take SIMD paths whose last bits differ
    # from their scalar tails, so they run on the padded chunks (a multiple of the vector
    # width) and the padding is dropped last.
    ziln = torch.cat([p[0] for p in parts])
    churn = torch.cat([p[1] for p in parts])
    ziln = ziln + torch.tensor([0.0, float(np.log(clv_scale)), 0.0])
    p, _, _ = ziln_params(ziln)
    q = ziln_quantiles(ziln, (0.1, 0.5, 0.9))
    out = {
        "predicted_clv": ziln_expected_value(ziln),
        "churn_probability": torch.sigmoid(churn),
        "purchase_probability": p,
        "clv_p10": q[:, 0].contiguous(),
        "clv_p50": q[:, 1].contiguous(),
        "clv_p90": q[:, 2].contiguous(),
    }
    return {name: values.numpy()[:n].astype(np.float64) for name, values in out.items()}
