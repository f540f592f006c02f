"""Register the scoring UDFs on any DuckDB connection (dbt's, or an ad-hoc one).

    import duckdb, python_udfs.udfs as udfs
    con = duckdb.connect("warehouse/clv.duckdb")
    udfs.register(con, "artifacts")
    con.sql("select customer_id, clv_score(behaviour_text, struct_pack(...)) from ...")

Functions (vectorised Arrow UDFs; a NULL argument gives NULL, a NULL or NaN feature inside the
struct counts as missing):

* ``clv_score(behaviour_text VARCHAR, features STRUCT(<model features> DOUBLE))`` ->
  STRUCT(predicted_clv, churn_probability, purchase_probability, clv_p10, clv_p50, clv_p90,
  model_version): text and head in one call, for ad-hoc SQL on any connection;
* ``predict_clv(...)`` -> DOUBLE and ``predict_churn(...)`` -> DOUBLE, same arguments;
* the two parts of scoring, which the dbt models use: ``clv_embed(behaviour_text)`` ->
  FLOAT[H] (the encoder, the expensive part) and ``clv_score_embedded(embedding FLOAT[H],
  features)`` -> the STRUCT above (the head, cheap); for a numeric-only model the embedding is
  ignored and may be NULL. ``clv_score(t, f)`` equals ``clv_score_embedded(clv_embed(t), f)``
  to the bit;
* ``clv_attributions(embedding FLOAT[H], features)`` -> LIST(STRUCT(driver VARCHAR,
  churn_effect DOUBLE, clv_effect DOUBLE)): the reasons behind the score, by occlusion of
  driver groups (python_udfs.reasons); same arguments and NULL rules as clv_score_embedded;
* for a sequence model (python_udfs.sequence) the embedding is the behaviour encoder's vector:
  ``clv_embed_events(events LIST(STRUCT(...)))`` -> FLOAT[width] (the list customer_scores
  builds, python_udfs.event_scoring), and ``clv_event_text_vector(embedding FLOAT[D])`` ->
  FLOAT[d], the model's projection of one frozen event-text embedding (event_text_vectors);
* ``clv_model_version()``, ``clv_model_info()`` (JSON: version, feature names in model order,
  text template, horizons, whether the model reads text, embedding size, precision) and
  ``clv_encoder_fingerprint()``, which the dbt models use to check the schema and key
  text_embeddings.

Importing this module imports neither torch nor transformers: the model loads lazily, once
per process, on the first call that needs it. Without an artifact, or with a malformed one,
the functions raise a clear error naming the file and the problem (so only the models that
need a model fail). Registering twice on one connection is fine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from python_udfs import settings
from python_udfs.artifact import ArtifactConfig, ArtifactError, read_config, resolve_artifact
from python_udfs.hardware import MODEL_LOAD_LOCK
from python_udfs.schema import ATTRIBUTION_SQL_TYPE, TEXT_COLUMN, output_sql_type

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from python_udfs.scoring import Scorer

logger = logging.getLogger(__name__)
PROGRESS_EVERY_S = 15.0


class LazyScorer:
    """One artifact per process: resolved and read once, loaded on first use, under a lock
    (DuckDB calls UDFs from several threads). Everything it reports about the model comes
    from that one reading, so a `current` pointer moved mid-run changes nothing."""

    def __init__(self, model_path: Path | str, device: str | None = None) -> None:
        self.model_path = Path(model_path)
        self.device = device or None
        self._directory: Path | None = None
        self._config: ArtifactConfig | None = None
        self._scorer: Scorer | None = None
        self._lock = threading.Lock()
        self._progress: tqdm | None = None

    def artifact_dir(self) -> Path:
        if self._directory is None:
            self._directory = resolve_artifact(self.model_path)
        return self._directory

    def artifact_config(self) -> ArtifactConfig:
        if self._config is None:
            self._config = read_config(self.artifact_dir())
        return self._config

    def encoder_fingerprint(self) -> str:
        from python_udfs.artifact import encoder_fingerprint

        return encoder_fingerprint(self.artifact_dir(), self.artifact_config())

    def get(self) -> Scorer:
        if self._scorer is None:
            with self._lock, MODEL_LOAD_LOCK:
                if self._scorer is None:
                    import transformers

                    from python_udfs.scoring import Scorer

                    transformers.logging.set_verbosity_error()  # no weight-loading bars in dbt
                    transformers.logging.disable_progress_bar()
                    self._scorer = Scorer(
                        self.artifact_dir(), device=self.device, config=self.artifact_config()
                    )
                    logger.info(
                        "loaded model %s on %s (%s)",
                        self._scorer.model_version,
                        self._scorer.device,
                        self._scorer.config.precision,
                    )
        return self._scorer

    def count_embedded(self, n: int) -> None:
        """Progress of clv_embed on stderr (texts and texts/s; DuckDB does not tell the UDF
        how many rows are coming), at most every PROGRESS_EVERY_S seconds."""
        if self._progress is None:
            from tqdm.auto import tqdm

            self._progress = tqdm(
                desc="clv_embed", unit=" texts", mininterval=PROGRESS_EVERY_S, leave=False
            )
        self._progress.update(n)

    def model_info(self) -> dict:
        config = self.artifact_config()
        sequence = config.sequence
        return {
            "model_version": config.model_version,
            "feature_names": config.feature_names,
            "text_template_version": config.text_template_version,
            "horizon_days": config.horizon_days,
            "churn_horizon_days": config.churn_horizon_days,
            "uses_text": config.inputs in ("fused", "text"),
            "uses_events": bool(sequence),
            "uses_event_text": bool(sequence and sequence.get("text_input_dim")),
            "event_sequence_length": sequence.get("max_events") if sequence else None,
            "event_text_dim": sequence.get("text_dim") if sequence else None,
            "event_text_encoder_fingerprint": (
                sequence.get("event_text_encoder_fingerprint") if sequence else None
            ),
            "embedding_dim": _embedding_dim(self.artifact_dir(), config),
            "precision": config.precision,
            "path": str(self.artifact_dir()),
        }


def _embedding_dim(directory: Path, config: ArtifactConfig | None = None) -> int:
    """Size of what clv_score_embedded reads: a sequence model's encoder width, else the
    hidden_size of the artifact's text encoder config (no model load)."""
    if config is not None and config.sequence:
        return int(config.sequence["width"])
    path = directory / "encoder" / "config.json"
    try:
        encoder = json.loads(path.read_text())
        return int(encoder.get("hidden_size") or encoder["n_embd"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ArtifactError(f"cannot read the encoder size from {path}: {error}") from error


def _feature_table(features: pa.ChunkedArray | pa.StructArray) -> pa.Table:
    """The feature struct as a table with one column per field."""
    struct = features.combine_chunks() if isinstance(features, pa.ChunkedArray) else features
    names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
    return pa.Table.from_arrays(struct.flatten(), names=names)


def _embedding_matrix(
    embedding: pa.ChunkedArray | pa.Array, dim: int, function: str = "clv_score_embedded"
) -> np.ndarray:
    """A FLOAT[dim] column as an [N, dim] float32 matrix (NULL rows are an error)."""
    array = embedding.combine_chunks() if isinstance(embedding, pa.ChunkedArray) else embedding
    if array.null_count or len(array.flatten()) != len(array) * dim:
        raise ValueError(
            f"{function} got {array.null_count} NULL embedding(s) for a model that reads "
            f"text: every behaviour_text must be in text_embeddings (dbt build --select "
            f"+customer_scores embeds missing texts)"
        )
    return array.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)


def _as_struct(table: pa.Table) -> pa.StructArray:
    return pa.StructArray.from_arrays(
        [column.combine_chunks() for column in table.columns], names=table.column_names
    )


class UdfOwner(Protocol):
    """What serves a set of UDFs (LazyScorer, event_encoder.LazyEventEncoder): two
    registrations on one database are the same when path and device are."""

    model_path: Path
    device: str | None


# DuckDB keeps Python UDFs in the database instance, which every connection to the same file
# in one process shares; only the registering connection can remove one, and a function whose
# connection was closed must not be called. So a second connection finds the functions there:
# fine for the same model while the first connection lives (it is kept open here), an error
# for another model or a closed first connection.
_OWNERS: dict[tuple[str, str], tuple[UdfOwner, duckdb.DuckDBPyConnection]] = {}


def _database_key(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()  # fetched to the end: dbt's connection must have no open result
    return (rows[0][0] if rows else None) or f"memory:{id(con)}"


def _create_function(
    con: duckdb.DuckDBPyConnection, scorer: UdfOwner, name: str, *args, **kwargs
) -> None:
    """create_function, replacing an earlier registration of `name` on this connection (dbt may
    configure one connection more than once); reusing one from another connection to the same
    database when it serves the same model, and refusing when it serves another."""
    key = (_database_key(con), name)
    with contextlib.suppress(duckdb.InvalidInputException):  # not registered on `con`
        con.remove_function(name)
    try:
        con.create_function(name, *args, **kwargs)
    except duckdb.CatalogException:
        entry = _OWNERS.get(key)
        if entry is None or (
            entry[0].model_path.resolve(),
            entry[0].device,
        ) != (scorer.model_path.resolve(), scorer.device):
            raise ArtifactError(
                f"{name}() is already registered for this database ({key[0]}) by another "
                f"connection of this process with another model; DuckDB shares Python functions "
                f"between connections to one file. Close every connection to it first, or "
                f"register the same model path on both"
            ) from None
        try:
            entry[1].execute("select 1").fetchall()
        except duckdb.Error:
            raise ArtifactError(
                f"{name}() was registered for {key[0]} by a connection that is closed now; "
                f"DuckDB keeps it until every connection to the file is closed. Close them "
                f"all and connect again"
            ) from None
        return
    _OWNERS[key] = (scorer, con)


def _register_info(con: duckdb.DuckDBPyConnection, scorer: LazyScorer) -> None:
    """The feature-less functions that describe the model."""
    for name, function in (
        ("clv_model_version", lambda: scorer.artifact_config().model_version),
        ("clv_model_info", lambda: json.dumps(scorer.model_info())),
        ("clv_encoder_fingerprint", scorer.encoder_fingerprint),
    ):
        _create_function(con, scorer, name, function, [], "VARCHAR", side_effects=True)


def _register_scoring(
    con: duckdb.DuckDBPyConnection, scorer: LazyScorer, names: list[str], dim: int
) -> None:
    """The functions that take features: their STRUCT type is the model's feature list."""
    struct = "STRUCT(" + ", ".join(f'"{n}" DOUBLE' for n in names) + ")"
    embedding_type = f"FLOAT[{dim}]"
    score_type = output_sql_type()

    def score(text: pa.ChunkedArray, features: pa.ChunkedArray) -> pa.Table:
        table = _feature_table(features)
        return scorer.get().score(table.append_column(TEXT_COLUMN, text.combine_chunks()))

    def clv_embed(text: pa.ChunkedArray) -> pa.Array:
        rows = scorer.get().embed(text.to_pylist())
        scorer.count_embedded(len(rows))
        return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), dim)

    def clv_score_embedded(embedding: pa.ChunkedArray, features: pa.ChunkedArray) -> pa.Array:
        # Called with NULLs (null_handling="special"): a numeric-only model takes a NULL
        # embedding; a NULL feature struct gives a NULL score, as in the other functions.
        model = scorer.get()
        matrix = _embedding_matrix(embedding, dim) if model.uses_embedding else None
        struct = features.combine_chunks()
        scored = _as_struct(model.score_embedded(matrix, _feature_table(struct)))
        if not struct.null_count:
            return scored
        return pa.StructArray.from_arrays(
            scored.flatten(), fields=list(scored.type), mask=struct.is_null()
        )

    def clv_attributions(embedding: pa.ChunkedArray, features: pa.ChunkedArray) -> pa.Array:
        # Same inputs and NULL rules as clv_score_embedded: a NULL struct gives NULL.
        from python_udfs.reasons import effects_to_arrow

        model = scorer.get()
        matrix = (
            _embedding_matrix(embedding, dim, "clv_attributions") if model.uses_embedding else None
        )
        struct = features.combine_chunks()
        effects = model.driver_effects(matrix, _feature_table(struct))
        return effects_to_arrow(effects, struct.is_null() if struct.null_count else None)

    for name, function, arguments, returns in (
        ("clv_score", lambda t, f: _as_struct(score(t, f)), ["VARCHAR", struct], score_type),
        ("predict_clv", lambda t, f: score(t, f).column("predicted_clv"), ["VARCHAR", struct],
         "DOUBLE"),
        ("predict_churn", lambda t, f: score(t, f).column("churn_probability"),
         ["VARCHAR", struct], "DOUBLE"),
        ("clv_embed", clv_embed, ["VARCHAR"], embedding_type),
    ):  # fmt: skip
        _create_function(con, scorer, name, function, arguments, returns, type="arrow")
    for name, function, returns in (
        ("clv_score_embedded", clv_score_embedded, score_type),
        ("clv_attributions", clv_attributions, ATTRIBUTION_SQL_TYPE),
    ):
        _create_function(
            con,
            scorer,
            name,
            function,
            [embedding_type, struct],
            returns,
            type="arrow",
            null_handling="special",
        )


def register(
    con: duckdb.DuckDBPyConnection,
    model_path: Path | str | None = None,
    device: str | None = None,
    scorer: LazyScorer | None = None,
) -> LazyScorer:
    """Register the UDFs on `con`. The model path and device default to the project
    configuration (profiles.yml's plugin config, i.e. env CLV_MODEL_PATH / CLV_DEVICE). Never
    raises for a missing or malformed artifact: the functions raise when called, naming the
    file and the problem."""
    if scorer is None:
        if model_path:
            scorer = LazyScorer(model_path, device or None)
        else:
            configured = settings.load()
            scorer = LazyScorer(configured.model_path, device or configured.device)
    _register_info(con, scorer)
    try:
        config = scorer.artifact_config()
        names = config.feature_names
        dim = _embedding_dim(scorer.artifact_dir(), config)
    except (ArtifactError, OSError) as error:
        logger.warning("scoring UDFs not registered: %s", error)
        return scorer
    _register_scoring(con, scorer, names, dim)
    if config.sequence:
        _register_sequence(con, scorer, config.sequence, dim)
    return scorer


def _register_sequence(
    con: duckdb.DuckDBPyConnection, scorer: LazyScorer, sequence: dict, dim: int
) -> None:
    """clv_embed_events and (for a model that reads event texts) clv_event_text_vector."""
    from python_udfs.event_scoring import event_list_sql_type

    text_dim = int(sequence["text_dim"]) if sequence.get("text_input_dim") else None

    def clv_embed_events(events: pa.ChunkedArray) -> pa.Array:
        rows = scorer.get().embed_events(events)
        return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), dim)

    _create_function(
        con, scorer, "clv_embed_events", clv_embed_events, [event_list_sql_type(text_dim)],
        f"FLOAT[{dim}]", type="arrow",
    )  # fmt: skip
    if text_dim is None:
        return
    source = int(sequence["text_input_dim"])

    def clv_event_text_vector(embedding: pa.ChunkedArray) -> pa.Array:
        matrix = _embedding_matrix(embedding, source, "clv_event_text_vector")
        rows = scorer.get().project_event_texts(matrix)
        return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), text_dim)

    _create_function(
        con, scorer, "clv_event_text_vector", clv_event_text_vector, [f"FLOAT[{source}]"],
        f"FLOAT[{text_dim}]", type="arrow",
    )  # fmt: skip
