"""Unit tests of the behaviour encoder, its featurisation, the pretraining and the gate."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from python_udfs.event_scoring import event_list_sql_type, events_from_arrow
from python_udfs.sequence import (
    MASK_ID,
    PAD_ID,
    BehaviourEncoder,
    SequenceSpec,
    encode_in_chunks,
    event_values,
    pad_events,
    pool_texts,
    type_id,
)
from training.events import EventData
from training.gate import choose_shipped, paired_margin
from training.pretrain import mask_positions, pretrain


def _events(seed: int = 0, rows: int = 12, texts: int = 6, dim: int = 8) -> EventData:
    """Random sequences of 1..9 events, each with 0..2 texts of `texts` random embeddings."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 10, rows)
    n = int(lengths.sum())
    per_event = rng.integers(0, 3, n)
    m = int(per_event.sum())
    return EventData(
        row_ptr=np.concatenate([[0], np.cumsum(lengths)]),
        type_ids=rng.integers(2, 8, n),
        values=event_values(
            rng.exponential(50, n),
            rng.exponential(20, n),
            rng.exponential(30, n),
            rng.integers(1, 5, n),
        ),
        text_ptr=np.concatenate([[0], np.cumsum(per_event)]),
        text_index=rng.integers(0, texts, m),
        text_weight=rng.uniform(0.5, 3.0, m).astype(np.float32),
        text_embeddings=torch.as_tensor(rng.normal(size=(texts, dim)), dtype=torch.float32),
        max_events=9,
        encoder_fingerprint="test",
    )


def test_pad_events_keeps_the_last_events_oldest_first():
    lengths = np.array([3, 1])
    types = np.array([2, 3, 4, 5])
    values = np.arange(4 * 7, dtype=np.float32).reshape(4, 7)
    batch = pad_events(lengths, types, values, length=2)
    assert batch.type_ids.tolist() == [[3, 4], [5, PAD_ID]]
    assert batch.values[0, 0, 0] == values[1, 0] and batch.values[1, 1].abs().sum() == 0
    assert batch.mask.tolist() == [[True, True], [True, False]]


def test_event_values_and_types():
    values = event_values(np.array([0.5]), np.array([np.nan]), np.array([-3.0]), np.array([2.0]))
    assert values.shape == (1, 7)
    assert values[0, 1] == 0 and values[0, 4] == 1  # no gap: the first event
    assert values[0, 2] == 0 and values[0, 5] == 0  # a negative amount clips to 0, not missing
    assert type_id("ORDER") == type_id("order") and type_id("something_new") == type_id("other")
    assert MASK_ID not in {type_id(t) for t in ("order", "view", None)}


def test_pooling_then_projection_equals_projection_then_pooling():
    """Training pools frozen embeddings and projects; scoring projects each text once and
    pools: the linear map commutes with the weighted mean."""
    data = _events()
    spec = SequenceSpec(width=16, heads=2, text_input_dim=8, text_dim=4, max_events=9)
    encoder = BehaviourEncoder(spec).eval()
    rows = np.arange(12)
    raw = data.batch(rows, text=True)
    assert raw.text is not None
    projected_first = encoder.project_texts(data.text_embeddings)
    events = data._events_of(rows)
    owner = np.repeat(np.arange(len(events)), np.diff(data.text_ptr)[events])
    entries = np.concatenate([np.arange(data.text_ptr[e], data.text_ptr[e + 1]) for e in events])
    pooled, has = pool_texts(
        projected_first[torch.as_tensor(data.text_index[entries])],
        torch.as_tensor(data.text_weight[entries]),
        torch.as_tensor(owner),
        len(events),
    )
    flat_raw = encoder.project_texts(raw.text[raw.mask])
    assert torch.allclose(flat_raw[has], pooled[has], atol=1e-5)


def test_sequence_vectors_do_not_depend_on_the_other_rows():
    data = _events(rows=70)
    spec = SequenceSpec(width=16, heads=2, max_events=9)
    encoder = BehaviourEncoder(spec).eval()
    everything = encode_in_chunks(encoder, data.batch(np.arange(70), length=9))
    alone = encode_in_chunks(encoder, data.batch(np.array([65]), length=9))
    reordered = encode_in_chunks(encoder, data.batch(np.array([3, 65, 1]), length=9))
    assert torch.equal(everything[65], alone[0]) and torch.equal(everything[65], reordered[1])


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_padding_does_not_change_a_sequence_vector(kind):
    data = _events()
    encoder = BehaviourEncoder(SequenceSpec(width=16, heads=2, encoder=kind, max_events=9)).eval()
    with torch.no_grad():
        short = encoder(data.batch(np.array([0])))
        padded = encoder(data.batch(np.array([0]), length=9))
    assert torch.allclose(short, padded, atol=1e-5)


def test_arrow_events_featurise_like_training():
    """The scoring UDF's Arrow list gives the same batch as the training arrays."""
    text_dim = 4
    vector = pa.struct([("vector", pa.list_(pa.float32(), text_dim)), ("weight", pa.float64())])
    event = pa.struct(
        [
            ("event_type", pa.string()),
            ("days_before_cutoff", pa.float64()),
            ("gap_days", pa.float64()),
            ("amount", pa.float64()),
            ("quantity", pa.float64()),
            ("text_vectors", pa.list_(vector)),
        ]
    )
    rows = [
        [
            {"event_type": "order", "days_before_cutoff": 40.0, "gap_days": None, "amount": 12.0,
             "quantity": 2.0, "text_vectors": [{"vector": [1, 0, 0, 0], "weight": 3.0},
                                               {"vector": [0, 1, 0, 0], "weight": 1.0}]},
            {"event_type": "view", "days_before_cutoff": 2.0, "gap_days": 38.0, "amount": None,
             "quantity": None, "text_vectors": []},
        ],
        None,
    ]  # fmt: skip
    batch = events_from_arrow(pa.array(rows, pa.list_(event)), 3, text_dim)
    assert batch.type_ids.tolist() == [[type_id("order"), type_id("view"), PAD_ID], [PAD_ID] * 3]
    expected = event_values(np.array([40.0]), np.array([np.nan]), np.array([12.0]), np.array([2.0]))
    assert torch.allclose(batch.values[0, 0], torch.as_tensor(expected[0]))
    assert batch.text is not None and batch.has_text is not None and batch.projected
    assert torch.allclose(batch.text[0, 0], torch.tensor([0.75, 0.25, 0, 0]))
    assert batch.has_text[0].tolist() == [True, False, False]
    assert "text_vectors STRUCT(vector FLOAT[4], weight DOUBLE)[]" in event_list_sql_type(4)


def test_mask_positions_masks_at_least_one_real_event_per_sequence():
    mask = torch.tensor([[True, True, False], [True, False, False], [False, False, False]])
    chosen = mask_positions(mask, torch.Generator().manual_seed(0))
    assert chosen[0].any() and chosen[1, 0] and not chosen[2].any()
    assert not (chosen & ~mask).any()


def test_pretraining_learns_the_event_structure():
    """On sequences whose types alternate, masked-event loss falls well below its start."""
    rng = np.random.default_rng(1)
    rows, length = 64, 8
    types = np.tile([2, 3], rows * length // 2)
    n = rows * length
    data = EventData(
        row_ptr=np.arange(0, n + 1, length),
        type_ids=types,
        values=event_values(rng.exponential(5, n), rng.exponential(5, n), types * 10.0, np.ones(n)),
        text_ptr=np.zeros(n + 1, np.int64),
        text_index=np.zeros(0, np.int64),
        text_weight=np.zeros(0, np.float32),
        text_embeddings=torch.zeros((0, 1)),
        max_events=length,
        encoder_fingerprint=None,
    )
    spec = SequenceSpec(width=16, heads=2, layers=1, max_events=length)
    result = pretrain(spec, data, np.arange(rows), 12, 16, 3e-3, 0, progress=False)
    assert result.losses[-1] < 0.6 * result.losses[0]
    assert set(result.state) == set(BehaviourEncoder(spec).state_dict())


def test_gate_ships_a_richer_variant_only_with_evidence():
    rng = np.random.default_rng(0)
    base = rng.normal(2.0, 1.0, 2000)
    losses = {
        "numeric": base,
        "sequence": base - 0.05 + rng.normal(0, 0.05, 2000),  # clearly better
        "sequence_text": base - 0.051 + rng.normal(0, 0.5, 2000),  # no better than sequence
    }
    means = {k: float(v.mean()) for k, v in losses.items()}
    shipped, why = choose_shipped(means, losses)
    assert shipped == "sequence", why
    noise = {"numeric": base, "sequence": base + rng.normal(-0.001, 0.3, 2000)}
    shipped, why = choose_shipped({k: float(v.mean()) for k, v in noise.items()}, noise)
    assert shipped == "numeric" and "beyond noise" in why
    assert choose_shipped(means, losses, gate=False)[0] == "sequence_text"
    margin, se = paired_margin(base, base - 0.1)
    assert margin == pytest.approx(0.1) and se == pytest.approx(0.0, abs=1e-9)


def test_a_warm_started_sequence_model_scores_like_its_numeric_model(tiny_bert):
    """The sequence variants boost the fitted numeric model: before any step they give its
    outputs exactly, and only the behaviour encoder and the sequence head train."""
    from types import SimpleNamespace

    from transformers import AutoModel

    from python_udfs.model import ClvModel
    from training.variants import VariantTrainer

    encoder = AutoModel.from_pretrained(str(tiny_bert))
    torch.manual_seed(0)
    numeric = ClvModel(encoder, 10, hidden=16, inputs="numeric").eval()
    spec = SequenceSpec(width=16, heads=2, text_input_dim=8, text_dim=4, max_events=9)
    model = ClvModel(encoder, 10, hidden=16, inputs="sequence_text", sequence=spec).eval()
    runner = SimpleNamespace(numeric_start={"select": SimpleNamespace(model=numeric)})
    assert VariantTrainer.warm_start(runner, model, "select")  # type: ignore[arg-type]
    features = torch.randn(5, 10)
    data = _events(rows=5)
    assert model.sequence is not None
    with torch.no_grad():
        vectors = model.sequence(data.batch(np.arange(5), text=True))
        ziln, churn = model.head_forward(vectors, features)
        ziln0, churn0 = numeric.head_forward(torch.zeros(5, 1), features)
    assert torch.equal(ziln, ziln0) and torch.equal(churn, churn0)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    # (the text LM `encoder` is frozen by prepare_encoder in training, not here)
    assert trainable - {"encoder"} == {"sequence", "sequence_head", "text_norm"}
