"""Register the scoring UDFs on any DuckDB connection (dbt's, or an ad-hoc one).

    import duckdb, python_udfs.udfs as udfs
    con = duckdb.connect("warehouse/clv.duckdb")
    udfs.register(con, "artifacts")
    con.sql("select customer_id, clv_score(behaviour_text, struct_pack(...)) from ...")

Functions (vectorised Arrow UDFs; a NULL text or NULL feature struct gives NULL, a NULL or NaN
feature inside the struct counts as missing):

* ``clv_score(behaviour_text VARCHAR, features STRUCT(<model features> DOUBLE))`` ->
  STRUCT(predicted_clv, churn_probability, purchase_probability, clv_p10, clv_p50, clv_p90,
  model_version)
* ``predict_clv(...)`` -> DOUBLE and ``predict_churn(...)`` -> DOUBLE, same arguments
* ``clv_model_version()`` and ``clv_model_info()`` (JSON: version, feature names in model
  order, text template version, horizons), which the dbt models use to check the schema

The model loads lazily, once per process, on the first call; without an artifact, or with a
malformed one, the feature-less functions raise a clear error naming the file and the problem
(so only the models that need a model fail). Registering twice on one connection is fine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from pathlib import Path

import duckdb
import pyarrow as pa

from python_udfs import settings
from python_udfs.artifact import ArtifactConfig, ArtifactError, read_config, resolve_artifact
from python_udfs.scoring import OUTPUT_SCHEMA, TEXT_COLUMN, Scorer

logger = logging.getLogger(__name__)
MODEL_PATH_ENV = "CLV_MODEL_PATH"
DEVICE_ENV = "CLV_DEVICE"


class LazyScorer:
    """Loads the artifact on first use, once, under a lock (DuckDB calls UDFs from threads)."""

    def __init__(self, model_path: Path | str, device: str | None = None) -> None:
        self.model_path = Path(model_path)
        self.device = device or None
        self._scorer: Scorer | None = None
        self._lock = threading.Lock()

    def artifact_dir(self) -> Path:
        return resolve_artifact(self.model_path)

    def artifact_config(self) -> ArtifactConfig:
        return read_config(self.artifact_dir())

    def get(self) -> Scorer:
        if self._scorer is None:
            with self._lock:
                if self._scorer is None:
                    import transformers

                    transformers.logging.set_verbosity_error()  # no weight-loading bars in dbt
                    transformers.logging.disable_progress_bar()
                    self._scorer = Scorer(self.artifact_dir(), device=self.device)
                    logger.info(
                        "loaded model %s on %s", self._scorer.model_version, self._scorer.device
                    )
        return self._scorer


def _input_table(text: pa.ChunkedArray, features: pa.ChunkedArray) -> pa.Table:
    """The UDF arguments as one table: behaviour_text + one column per struct field."""
    struct = features.combine_chunks()
    names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
    return pa.Table.from_arrays(
        [text.combine_chunks(), *struct.flatten()], names=[TEXT_COLUMN, *names]
    )


def _create_function(con: duckdb.DuckDBPyConnection, name: str, *args, **kwargs) -> None:
    """create_function, replacing an earlier registration of `name` on this connection (dbt may
    configure one connection more than once)."""
    with contextlib.suppress(duckdb.InvalidInputException):  # not registered yet
        con.remove_function(name)
    con.create_function(name, *args, **kwargs)


def register(
    con: duckdb.DuckDBPyConnection,
    model_path: Path | str | None = None,
    device: str | None = None,
    scorer: LazyScorer | None = None,
) -> LazyScorer:
    """Register the UDFs on `con`. The model path defaults to the project configuration
    (env CLV_MODEL_PATH, else profiles.yml's `artifacts`). Never raises for a missing or
    malformed artifact: the functions raise when called, naming the file and the problem."""
    if scorer is None:
        configured = None if model_path else settings.load()
        scorer = LazyScorer(
            model_path or configured.model_path,
            device or os.environ.get(DEVICE_ENV) or None,
        )

    def clv_model_version() -> str:
        return scorer.artifact_config().model_version

    def clv_model_info() -> str:
        config = scorer.artifact_config()
        return json.dumps(
            {
                "model_version": config.model_version,
                "feature_names": config.feature_names,
                "text_template_version": config.text_template_version,
                "horizon_days": config.horizon_days,
                "churn_horizon_days": config.churn_horizon_days,
                "path": str(scorer.artifact_dir()),
            }
        )

    for name, function in (
        ("clv_model_version", clv_model_version),
        ("clv_model_info", clv_model_info),
    ):
        _create_function(con, name, function, [], "VARCHAR", side_effects=True)
    try:
        names = scorer.artifact_config().feature_names
    except (ArtifactError, OSError) as error:
        logger.warning("scoring UDFs not registered: %s", error)
        return scorer
    struct = "STRUCT(" + ", ".join(f'"{n}" DOUBLE' for n in names) + ")"
    score_type = (
        "STRUCT("
        + ", ".join(
            f"{field.name} {'VARCHAR' if pa.types.is_string(field.type) else 'DOUBLE'}"
            for field in OUTPUT_SCHEMA
        )
        + ")"
    )

    def score(text: pa.ChunkedArray, features: pa.ChunkedArray) -> pa.Table:
        return scorer.get().score(_input_table(text, features))

    def clv_score(text, features):
        scored = score(text, features)
        return pa.StructArray.from_arrays(
            [column.combine_chunks() for column in scored.columns], names=scored.column_names
        )

    def predict_clv(text, features):
        return score(text, features).column("predicted_clv")

    def predict_churn(text, features):
        return score(text, features).column("churn_probability")

    for name, function, returns in (
        ("clv_score", clv_score, score_type),
        ("predict_clv", predict_clv, "DOUBLE"),
        ("predict_churn", predict_churn, "DOUBLE"),
    ):
        _create_function(con, name, function, ["VARCHAR", struct], returns, type="arrow")
    return scorer
