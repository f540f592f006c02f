"""dbt-duckdb plugin: registers the scoring UDFs on dbt's DuckDB connection.

profiles.yml::

    plugins:
      - module: python_udfs.plugin
        alias: clv
        config:
          model_path: artifacts        # or env CLV_MODEL_PATH
          device: ""                   # cpu / cuda; empty = cuda when available
          export_path: warehouse/exports
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from python_udfs.udfs import DEVICE_ENV, MODEL_PATH_ENV, LazyScorer, register


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        model_path = (
            os.environ.get(MODEL_PATH_ENV) or plugin_config.get("model_path") or "artifacts"
        )
        device = os.environ.get(DEVICE_ENV) or plugin_config.get("device") or None
        # One lazily loaded model per dbt process, shared by every connection.
        self.scorer = LazyScorer(model_path, device)
        export_path = plugin_config.get("export_path")
        if export_path:
            Path(export_path).mkdir(parents=True, exist_ok=True)

    def configure_connection(self, conn) -> None:
        register(conn, scorer=self.scorer)
