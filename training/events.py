"""Event sequences of the training rows, read from the warehouse's customer_events (Arrow).

Per row (customer, cutoff) the events are kept flat (CSR: `row_ptr` into per-event arrays),
their texts flat too (`text_ptr` per event into text entries: the index of the text's frozen
embedding in `text_embeddings` and its weight). Batches pad to their own longest sequence
and carry each event's weighted mean of its texts' frozen embeddings; the model projects
those pooled embeddings itself (python_udfs.sequence: projection and pooling commute).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from python_udfs.sequence import EventBatch, event_values, pad_events, pool_texts, type_id
from training.data import BUILD_FEATURES, NoTrainingDataError

logger = logging.getLogger(__name__)


@dataclass
class EventData:
    """The event sequences of N rows (aligned with training.data.Examples)."""

    row_ptr: np.ndarray  # [N+1] int64: events of row i are row_ptr[i]:row_ptr[i+1]
    type_ids: np.ndarray  # [E] int64
    values: np.ndarray  # [E, N_VALUES] float32
    text_ptr: np.ndarray  # [E+1] int64: texts of event j are text_ptr[j]:text_ptr[j+1]
    text_index: np.ndarray  # [M] int64 into text_embeddings
    text_weight: np.ndarray  # [M] float32
    text_embeddings: torch.Tensor  # [T, D] float32 frozen sentence embeddings
    max_events: int
    encoder_fingerprint: str | None

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.row_ptr)

    @property
    def has_texts(self) -> bool:
        return len(self.text_index) > 0

    def _events_of(self, rows: np.ndarray) -> np.ndarray:
        starts, ends = self.row_ptr[rows], self.row_ptr[rows + 1]
        counts = ends - starts
        return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())

    def batch(self, rows: np.ndarray, text: bool = False, length: int | None = None) -> EventBatch:
        """The padded EventBatch of `rows`; with `text`, each event's weighted mean of its
        texts' frozen embeddings (the model projects them), else no text."""
        rows = np.asarray(rows, dtype=np.int64)
        events = self._events_of(rows)
        pooled = has = None
        if text:
            t_start, t_end = self.text_ptr[events], self.text_ptr[events + 1]
            t_counts = t_end - t_start
            entries = np.repeat(t_start - np.cumsum(t_counts) + t_counts, t_counts) + np.arange(
                t_counts.sum()
            )
            owner = np.repeat(np.arange(len(events)), t_counts)
            unique, inverse = np.unique(self.text_index[entries], return_inverse=True)
            vectors = self.text_embeddings[torch.as_tensor(unique)]
            pooled, has = pool_texts(
                vectors[torch.as_tensor(inverse.reshape(-1))],
                torch.as_tensor(self.text_weight[entries]),
                torch.as_tensor(owner),
                len(events),
            )
        return pad_events(
            self.lengths[rows],
            self.type_ids[events],
            self.values[events],
            length,
            pooled,
            has,
        )


EVENTS_SQL = """
with keys as (select * from keys_table),
rows_events as (
    select keys.row_id, customer_events.events
    from keys
    inner join customer_events
        on customer_events.customer_id = keys.customer_id
        and customer_events.cutoff_date = keys.cutoff_date
),
flat as (
    select row_id, unnest(events) as event, generate_subscripts(events, 1) as position
    from rows_events
)
select
    row_id, position, event.event_type, event.days_before_cutoff, event.gap_days,
    event.amount, event.quantity, event.text_ids, event.text_weights
from flat
order by row_id, position
"""


def _missing_table(database: Path, name: str, error: Exception) -> NoTrainingDataError:
    return NoTrainingDataError(
        f"{database} has no {name} table (the event sequences the sequence models read): "
        f"build the features first with {BUILD_FEATURES}"
    )


def load_events(
    database: Path,
    customer_id: np.ndarray,
    cutoff_date: np.ndarray,
    encoder_fingerprint: str | None,
) -> EventData:
    """The event sequences of the rows (customer_id[i], cutoff_date[i]) and the frozen
    embeddings of their texts for `encoder_fingerprint` (None: read no texts). A row without
    a customer_events row is an error: the tables were built apart."""
    n = len(customer_id)
    keys = pa.table(
        {
            "row_id": pa.array(np.arange(n), pa.int64()),
            "customer_id": pa.array(list(customer_id), pa.string()),
            "cutoff_date": pa.array(cutoff_date.astype("datetime64[D]"), pa.date32()),
        }
    )
    with duckdb.connect(str(database), read_only=True) as con:
        con.register("keys_table", keys)
        try:
            flat = con.sql(EVENTS_SQL).to_arrow_table()
            found = con.sql(
                "select count(*) from keys_table inner join customer_events using "
                "(customer_id, cutoff_date)"
            ).fetchall()[0][0]
            max_events = con.sql(
                "select coalesce(max(len(events)), 1) from customer_events"
            ).fetchall()[0][0]
        except duckdb.CatalogException as error:
            raise _missing_table(database, "customer_events", error) from error
        if found != n:
            raise NoTrainingDataError(
                f"customer_events in {database} has {found} of the {n} training rows: it was "
                f"built apart from training_examples. Rebuild both with {BUILD_FEATURES}"
            )
        text_ids = pc.list_flatten(flat.column("text_ids"))
        embeddings, index = _text_embeddings(con, database, text_ids, encoder_fingerprint)
    row = flat.column("row_id").to_numpy()
    counts = np.bincount(row, minlength=n)
    values = event_values(
        *(
            flat.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            for c in ("days_before_cutoff", "gap_days", "amount", "quantity")
        )
    )
    types = np.array([type_id(t) for t in flat.column("event_type").to_pylist()], np.int64)
    text_counts = pc.list_value_length(flat.column("text_ids")).to_numpy(zero_copy_only=False)
    text_counts = np.nan_to_num(text_counts.astype(np.float64)).astype(np.int64)
    weights = pc.list_flatten(flat.column("text_weights"))
    weight = np.nan_to_num(weights.to_numpy(zero_copy_only=False).astype(np.float32), nan=1.0)
    known = index >= 0
    if not known.all() and encoder_fingerprint is not None:
        raise NoTrainingDataError(
            f"{int((~known).sum())} event texts of customer_events have no embedding for the "
            f"event text encoder ({encoder_fingerprint[:12]}) in event_text_embeddings: rebuild "
            f"the features with {BUILD_FEATURES}"
        )
    if encoder_fingerprint is None:  # no texts read: every event has none
        text_counts = np.zeros_like(text_counts)
        index, weight = index[:0], weight[:0]
    data = EventData(
        row_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        type_ids=types,
        values=values,
        text_ptr=np.concatenate([[0], np.cumsum(text_counts)]).astype(np.int64),
        text_index=index.astype(np.int64),
        text_weight=weight[: len(index)],
        text_embeddings=embeddings,
        max_events=int(max_events),
        encoder_fingerprint=encoder_fingerprint,
    )
    logger.info(
        "event sequences: %d rows, %d events (median %d, longest %d), %d text references to "
        "%d distinct texts",
        n,
        len(types),
        int(np.median(counts)) if n else 0,
        int(counts.max(initial=0)),
        len(data.text_index),
        len(embeddings),
    )
    return data


def _text_embeddings(
    con: duckdb.DuckDBPyConnection,
    database: Path,
    text_ids: pa.Array,
    fingerprint: str | None,
) -> tuple[torch.Tensor, np.ndarray]:
    """The frozen embeddings [T, D] of the distinct `text_ids` and each id's row in it (-1:
    none stored)."""
    ids = np.asarray(text_ids.to_pylist(), dtype=object)
    if fingerprint is None or len(ids) == 0:
        return torch.zeros((0, 1)), np.full(len(ids), -1, np.int64)
    unique, inverse = np.unique(ids, return_inverse=True)
    wanted = pa.table({"text_id": pa.array(list(unique), pa.string())})
    con.register("wanted_texts", wanted)
    try:
        stored = con.sql(
            "select wanted_texts.text_id, event_text_embeddings.embedding from wanted_texts "
            "inner join event_text_embeddings on event_text_embeddings.text_id = "
            "wanted_texts.text_id and event_text_embeddings.encoder_fingerprint = ?",
            params=[fingerprint],
        ).to_arrow_table()
    except duckdb.CatalogException as error:
        raise _missing_table(database, "event_text_embeddings", error) from error
    position = {t: i for i, t in enumerate(stored.column("text_id").to_pylist())}
    column = stored.column("embedding").combine_chunks()
    if len(column):
        dim = len(column.flatten()) // len(column)
        matrix = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    else:
        matrix = np.zeros((0, 1), np.float32)
    lookup = np.array([position.get(t, -1) for t in unique], np.int64)
    return torch.as_tensor(matrix.astype(np.float32)), lookup[inverse.reshape(-1)]


def distinct_text_count(database: Path) -> int:
    """How many event texts the warehouse holds (0: the shop's events carry no text)."""
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            return int(con.sql("select count(*) from event_texts").fetchall()[0][0])
    except duckdb.CatalogException:
        return 0
