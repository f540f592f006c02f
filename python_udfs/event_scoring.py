"""Arrow event lists -> the behaviour encoder's batches, for scoring in SQL.

The scoring UDF ``clv_embed_events(events)`` receives, per customer, the list the dbt model
customer_scores builds from customer_events and event_text_vectors::

    LIST(STRUCT(event_type VARCHAR, days_before_cutoff DOUBLE, gap_days DOUBLE,
                amount DOUBLE, quantity DOUBLE,
                text_vectors LIST(STRUCT(vector FLOAT[d], weight DOUBLE))))

(events oldest -> newest; each text vector already projected by the model's
``clv_event_text_vector``). The values are featurised exactly as in training
(python_udfs.sequence.event_values); texts are pooled per event by their weights.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from python_udfs.sequence import EventBatch, event_values, pad_events, pool_texts, type_id

EVENT_FIELDS = ("event_type", "days_before_cutoff", "gap_days", "amount", "quantity")
TEXT_VECTORS_FIELD = "text_vectors"


def event_list_sql_type(text_dim: int | None) -> str:
    """The SQL type of the UDF's events argument (text_dim None: no text vectors)."""
    fields = (
        "event_type VARCHAR, days_before_cutoff DOUBLE, gap_days DOUBLE, amount DOUBLE, "
        "quantity DOUBLE"
    )
    if text_dim:
        fields += f", text_vectors STRUCT(vector FLOAT[{text_dim}], weight DOUBLE)[]"
    return f"STRUCT({fields})[]"


def _lengths(array: pa.Array) -> np.ndarray:
    counts = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    return np.nan_to_num(np.asarray(counts, dtype=np.float64)).astype(np.int64)


def _column(struct: pa.StructArray, name: str) -> np.ndarray:
    return struct.field(name).to_numpy(zero_copy_only=False).astype(np.float64)


def events_from_arrow(
    events: pa.Array | pa.ChunkedArray, max_events: int, text_dim: int | None
) -> EventBatch:
    """The padded EventBatch (length `max_events`, the last events kept) of an Arrow list of
    event structs; a NULL list counts as no events."""
    if isinstance(events, pa.ChunkedArray):
        events = events.combine_chunks()
    lengths = _lengths(events)
    flat = pc.list_flatten(events)
    missing = [n for n in EVENT_FIELDS if flat.type.get_field_index(n) < 0]
    if missing:
        raise ValueError(f"the events list lacks the field(s) {missing}")
    struct = flat if isinstance(flat, pa.StructArray) else pa.StructArray.from_arrays([], [])
    types = np.array([type_id(t) for t in struct.field("event_type").to_pylist()], np.int64)
    values = event_values(
        *(_column(struct, n) for n in ("days_before_cutoff", "gap_days", "amount", "quantity"))
    )
    text = has = None
    if text_dim:
        if struct.type.get_field_index(TEXT_VECTORS_FIELD) < 0:
            raise ValueError("the model reads event texts: the events lack text_vectors")
        texts = struct.field(TEXT_VECTORS_FIELD)
        per_event = _lengths(texts)
        entries = pc.list_flatten(texts)
        vectors = entries.field("vector")
        if vectors.null_count:
            raise ValueError(
                f"{vectors.null_count} event text(s) have no vector: event_text_vectors must "
                "hold every text of customer_events (dbt build --select +customer_scores)"
            )
        matrix = pc.list_flatten(vectors).to_numpy(zero_copy_only=False).astype(np.float32)
        matrix = matrix.reshape(-1, text_dim) if len(vectors) else np.zeros((0, text_dim))
        weights = entries.field("weight").to_numpy(zero_copy_only=False).astype(np.float32)
        owner = np.repeat(np.arange(len(per_event)), per_event)
        text, has = pool_texts(
            torch.from_numpy(np.array(matrix, dtype=np.float32)),
            torch.from_numpy(np.nan_to_num(weights, nan=1.0)),
            torch.from_numpy(owner),
            len(per_event),
        )
    return pad_events(lengths, types, values, max_events, text, has, projected=True)
