"""The behaviour encoder: a small transformer (or GRU) over a customer's last K events.

One token per event (order, return, refund, review, search, view, campaign touch, ...):

    token = type embedding + projection of robust event values (log days before the cutoff,
            log gap since the previous event, log amount, log quantity, missing flags)
            + position-from-the-end embedding
            + projection of the event's text vector (sequence_text models only)

The event's text vector is the weighted mean of its texts' vectors (the products of an order
by line value, a review's text and product, a search query), each text vector being a linear
map (no bias) of the text's frozen sentence embedding. Because the map is linear it commutes
with the weighted mean, so scoring projects each distinct text once (clv_event_text_vector)
and pools in the scoring UDF, while training pools first: the same numbers either way.

A [CLS] token is prepended; its final state, plus (text models) an MLP of the mean text vector
of the whole history (which products, directly, next to what attention makes of them), then a
LayerNorm, is the customer's sequence vector, which the head fuses with the numeric tower
exactly as a text embedding is fused. The same
module, with `token_states`, serves the masked-event pretraining (training.pretrain).

Everything that turns raw event columns into tensors lives here too (`EventBatch`,
`event_values`, `pad_events`), so training and scoring share one featurisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# Event-type vocabulary (index 0 = padding, 1 = [MASK] for pretraining). Anything else is
# OTHER_TYPE: a shop's own event types still enter the sequence, as one shared type.
EVENT_TYPES = (
    "order", "return", "cancel", "refund", "review", "search", "view", "add_to_cart",
    "campaign", "coupon",
)  # fmt: skip
PAD_ID, MASK_ID = 0, 1
OTHER_TYPE = "other"
TYPE_IDS = {name: i + 2 for i, name in enumerate((*EVENT_TYPES, OTHER_TYPE))}
N_TYPES = len(TYPE_IDS) + 2
# Event values: log1p(days before cutoff), log1p(gap), log1p(amount), log1p(quantity) and a
# missing flag for gap / amount / quantity.
VALUE_NAMES = (
    "log_days_before", "log_gap", "log_amount", "log_quantity",
    "first_event", "no_amount", "no_quantity",
)  # fmt: skip
N_VALUES = len(VALUE_NAMES)
ENCODERS = ("transformer", "gru")
MAX_POSITIONS = 512  # the largest event_sequence_length setting
SEQUENCE_CHUNK_ROWS = 64  # scoring encodes fixed chunks of this many rows (determinism)


def type_id(name: str | None) -> int:
    return TYPE_IDS.get((name or "").lower(), TYPE_IDS[OTHER_TYPE])


def event_values(
    days_before: np.ndarray, gap: np.ndarray, amount: np.ndarray, quantity: np.ndarray
) -> np.ndarray:
    """[M, N_VALUES] float32 values of M events (NaN = missing; negatives clip to 0)."""

    def log(x: np.ndarray) -> np.ndarray:
        return np.log1p(np.clip(np.nan_to_num(x, nan=0.0), 0.0, None))

    days_before, gap, amount, quantity = (
        np.asarray(a, dtype=np.float64) for a in (days_before, gap, amount, quantity)
    )
    return np.column_stack(
        [
            log(days_before),
            log(gap),
            log(amount),
            log(quantity),
            np.isnan(gap),
            np.isnan(amount),
            np.isnan(quantity),
        ]
    ).astype(np.float32)


@dataclass
class EventBatch:
    """B padded sequences of length L (events oldest -> newest, padding at the end)."""

    type_ids: torch.Tensor  # [B, L] int64, PAD_ID where padded
    values: torch.Tensor  # [B, L, N_VALUES] float32
    text: torch.Tensor | None  # [B, L, D] pooled text vectors (None: the model reads no text)
    has_text: torch.Tensor | None  # [B, L] bool: the event has at least one text
    # False: `text` pools the frozen embeddings (training); True: it pools their projections
    # (scoring, where SQL hands over each text's clv_event_text_vector).
    projected: bool = False

    @property
    def mask(self) -> torch.Tensor:
        return self.type_ids != PAD_ID

    def to(self, device: torch.device | str) -> EventBatch:
        return EventBatch(
            self.type_ids.to(device),
            self.values.to(device),
            None if self.text is None else self.text.to(device),
            None if self.has_text is None else self.has_text.to(device),
            self.projected,
        )


def pad_events(
    lengths: np.ndarray,
    type_ids: np.ndarray,
    values: np.ndarray,
    length: int | None = None,
    text: np.ndarray | torch.Tensor | None = None,
    has_text: np.ndarray | torch.Tensor | None = None,
    projected: bool = False,
) -> EventBatch:
    """An EventBatch from flat per-event arrays of B sequences (`lengths` [B], the events of
    sequence b contiguous and in order), padded to `length` (default: the longest) and keeping
    the last `length` events of longer ones."""
    lengths = np.asarray(lengths, dtype=np.int64)
    b = len(lengths)
    width = int(length if length is not None else max(int(lengths.max(initial=0)), 1))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    keep = np.minimum(lengths, width)
    first = starts + lengths - keep
    total = int(keep.sum())
    row = np.repeat(np.arange(b), keep)
    col = np.arange(total) - np.repeat(np.cumsum(keep) - keep, keep)
    source = np.repeat(first, keep) + col
    types = torch.zeros((b, width), dtype=torch.long)
    vals = torch.zeros((b, width, N_VALUES), dtype=torch.float32)
    r, c, s = (torch.as_tensor(a) for a in (row, col, source))
    types[r, c] = torch.as_tensor(type_ids, dtype=torch.long)[s]
    vals[r, c] = torch.as_tensor(values, dtype=torch.float32)[s]
    text_out = flags = None
    if text is not None:
        text = torch.as_tensor(text, dtype=torch.float32)
        text_out = torch.zeros((b, width, text.shape[-1]), dtype=torch.float32)
        text_out[r, c] = text[s]
        flags = torch.zeros((b, width), dtype=torch.bool)
        flags[r, c] = torch.as_tensor(has_text, dtype=torch.bool)[s]
    return EventBatch(types, vals, text_out, flags, projected)


def pool_texts(
    vectors: torch.Tensor, weights: torch.Tensor, event: torch.Tensor, n_events: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean [n_events, D] of text vectors [M, D] per event (`event` [M] its index),
    and whether each event has a text. Weights <= 0 or NaN count as 1."""
    w = torch.where(torch.isfinite(weights) & (weights > 0), weights, torch.ones_like(weights))
    sums = torch.zeros((n_events, vectors.shape[-1]), dtype=vectors.dtype, device=vectors.device)
    sums.index_add_(0, event, vectors * w.unsqueeze(-1).to(vectors.dtype))
    total = torch.zeros(n_events, dtype=vectors.dtype, device=vectors.device)
    total.index_add_(0, event, w.to(vectors.dtype))
    has = total > 0
    return sums / total.clamp(min=1e-12).unsqueeze(-1), has


@dataclass(frozen=True)
class SequenceSpec:
    """The behaviour encoder's settings (recorded in the artifact as `sequence`)."""

    width: int = 64
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    encoder: str = "transformer"
    text_input_dim: int = 0  # size of the frozen text embeddings; 0 = no text
    text_dim: int = 32  # size of a projected text vector
    max_events: int = 128

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"sequence encoder must be one of {ENCODERS}, not {self.encoder!r}")
        if not 1 <= self.max_events <= MAX_POSITIONS:
            raise ValueError(f"max_events must be in 1..{MAX_POSITIONS}, not {self.max_events}")

    @property
    def uses_text(self) -> bool:
        return self.text_input_dim > 0


class BehaviourEncoder(nn.Module):
    """forward(EventBatch) -> [B, width] sequence vectors; token_states -> [B, L, width]."""

    def __init__(self, spec: SequenceSpec) -> None:
        super().__init__()
        self.spec = spec
        w = spec.width
        self.type_embedding = nn.Embedding(N_TYPES, w, padding_idx=PAD_ID)
        self.value_projection = nn.Sequential(nn.Linear(N_VALUES, w), nn.GELU(), nn.Linear(w, w))
        self.position_embedding = nn.Embedding(MAX_POSITIONS, w)
        self.cls = nn.Parameter(torch.zeros(1, 1, w))
        nn.init.normal_(self.cls, std=0.02)
        if spec.uses_text:
            self.text_projection = nn.Linear(spec.text_input_dim, spec.text_dim, bias=False)
            # LayerNorms after the pooling (the projection and the pooling stay linear, so
            # they commute): the frozen embeddings have unit norm, their projections are
            # small next to the event tokens unless rescaled
            self.event_text_norm = nn.LayerNorm(spec.text_dim)
            self.history_text_norm = nn.LayerNorm(spec.text_dim)
            self.text_to_token = nn.Linear(spec.text_dim, w)
            # what the whole history is about: the mean text vector of its events, added to
            # the [CLS] state (a direct path for "which products", next to the attention)
            self.history_text = nn.Sequential(
                nn.Linear(spec.text_dim, w), nn.GELU(), nn.Linear(w, w)
            )
        self.token_norm = nn.LayerNorm(w)
        if spec.encoder == "transformer":
            layer = nn.TransformerEncoderLayer(
                w, spec.heads, 2 * w, spec.dropout, activation="gelu", batch_first=True,
                norm_first=True,
            )  # fmt: skip
            self.layers = nn.TransformerEncoder(layer, spec.layers, enable_nested_tensor=False)
        else:
            self.gru = nn.GRU(w, w, num_layers=spec.layers, batch_first=True)
        self.out_norm = nn.LayerNorm(w)

    def project_texts(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Text vectors [T, text_dim] of frozen text embeddings [T, text_input_dim]."""
        return self.text_projection(embeddings.float())

    def tokens(self, batch: EventBatch, replace: torch.Tensor | None = None) -> torch.Tensor:
        """Token inputs [B, L, width]; `replace` [B, L] bool marks masked events (pretraining):
        their type becomes [MASK] and their values and text are zeroed."""
        types, values, text = batch.type_ids, batch.values, batch.text
        if replace is not None:
            types = torch.where(replace, torch.full_like(types, MASK_ID), types)
            values = values.masked_fill(replace.unsqueeze(-1), 0.0)
        length = types.shape[1]
        lengths = (types != PAD_ID).sum(1, keepdim=True)
        from_end = (lengths - 1 - torch.arange(length, device=types.device)).clamp(min=0)
        x = self.type_embedding(types) + self.value_projection(values)
        x = x + self.position_embedding(from_end.clamp(max=MAX_POSITIONS - 1))
        if self.spec.uses_text and text is not None:
            has = batch.has_text if batch.has_text is not None else torch.ones_like(types).bool()
            if replace is not None:
                has = has & ~replace
            vectors = text if batch.projected else self.project_texts(text)
            vectors = self.event_text_norm(vectors)
            x = x + self.text_to_token(vectors) * has.unsqueeze(-1).to(x.dtype)
        return self.token_norm(x)

    def history_text_vector(self, batch: EventBatch) -> torch.Tensor | None:
        """[B, text_dim] the mean projected text vector of each sequence's events with text
        (zero without any), or None when the model reads no text."""
        if not self.spec.uses_text or batch.text is None:
            return None
        vectors = batch.text if batch.projected else self.project_texts(batch.text)
        has = batch.mask if batch.has_text is None else batch.has_text & batch.mask
        weights = has.to(vectors.dtype).unsqueeze(-1)
        return (vectors * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def token_states(
        self, batch: EventBatch, replace: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(CLS state [B, width], event states [B, L, width])."""
        cls, states = self._token_states(batch, replace)
        history = self.history_text_vector(batch) if replace is None else None
        if history is not None:
            cls = cls + self.history_text(self.history_text_norm(history))
        return self.out_norm(cls), states

    def _token_states(
        self, batch: EventBatch, replace: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tokens(batch, replace)
        mask = batch.mask
        b = x.shape[0]
        if self.spec.encoder == "transformer":
            x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1)
            keep = torch.cat([torch.ones((b, 1), dtype=torch.bool, device=x.device), mask], 1)
            h = self.layers(x, src_key_padding_mask=~keep)
            return h[:, 0], h[:, 1:]
        x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1)
        h, _ = self.gru(x)
        last = mask.sum(1)  # index of the last real event (CLS at 0 shifts by one)
        return h[torch.arange(b, device=h.device), last], h[:, 1:]

    def forward(self, batch: EventBatch) -> torch.Tensor:
        return self.token_states(batch)[0]


def encode_in_chunks(
    encoder: BehaviourEncoder, batch: EventBatch, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Sequence vectors [B, width] computed on fixed chunks of SEQUENCE_CHUNK_ROWS rows, every
    sequence padded to the encoder's max_events: a row's vector never depends on the other
    rows of the call (the last chunk is filled with copies of its last row)."""
    n = batch.type_ids.shape[0]
    out = torch.empty((n, encoder.spec.width), dtype=torch.float32)
    if n == 0:
        return out
    for start in range(0, n, SEQUENCE_CHUNK_ROWS):
        rows = torch.arange(start, min(start + SEQUENCE_CHUNK_ROWS, n))
        filled = torch.cat([rows, rows[-1:].expand(SEQUENCE_CHUNK_ROWS - len(rows))])
        chunk = EventBatch(
            batch.type_ids[filled],
            batch.values[filled],
            None if batch.text is None else batch.text[filled],
            None if batch.has_text is None else batch.has_text[filled],
            batch.projected,
        ).to(device)
        out[rows] = encoder(chunk)[: len(rows)].float().cpu()
    return out


def sequence_flops_per_row(spec: SequenceSpec) -> float:
    """Multiply-adds x 2 of one forward pass at full length (for the throughput benchmark)."""
    length, w = spec.max_events + 1, spec.width
    if spec.encoder == "gru":
        per_token = spec.layers * 2 * 3 * (2 * w * w)
    else:
        per_token = spec.layers * 2 * (4 * w * w + 2 * w * 2 * w) + spec.layers * 2 * 2 * length * w
    text = 2 * spec.text_dim * w if spec.uses_text else 0
    return float(length * (per_token + 2 * N_VALUES * w + 2 * w * w + text))
