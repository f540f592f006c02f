"""The scoring interface as data (no torch import): the text column, the output schema and
the fixed batching rule of python_udfs.encoding.

One home for the names shared by the scorer, the UDFs and training. The encoder's rule is part
of the encoder fingerprint (python_udfs.artifact), so changing it re-embeds every text.
"""

from __future__ import annotations

import pyarrow as pa

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
# clv_attributions(): per customer, one (driver, churn_effect, clv_effect) per driver
# (python_udfs.reasons).
ATTRIBUTION_TYPE = pa.list_(
    pa.struct(
        [("driver", pa.string()), ("churn_effect", pa.float64()), ("clv_effect", pa.float64())]
    )
)
ATTRIBUTION_SQL_TYPE = "STRUCT(driver VARCHAR, churn_effect DOUBLE, clv_effect DOUBLE)[]"

# python_udfs.encoding: texts are padded to a multiple of LENGTH_STEP tokens and encoded in
# batches of MIN_BATCH_ROWS..MAX_BATCH_ROWS rows; the head runs on HEAD_CHUNK_ROWS-row chunks.
LENGTH_STEP = 8
MIN_BATCH_ROWS = 16
MAX_BATCH_ROWS = 64
HEAD_CHUNK_ROWS = 256


def output_sql_type() -> str:
    """OUTPUT_SCHEMA as a DuckDB STRUCT type."""
    fields = ", ".join(
        f"{field.name} {'VARCHAR' if pa.types.is_string(field.type) else 'DOUBLE'}"
        for field in OUTPUT_SCHEMA
    )
    return f"STRUCT({fields})"


# ClvModel inputs that read the event sequence (python_udfs.sequence) in place of the text.
SEQUENCE_INPUTS = frozenset({"sequence", "sequence_text"})
