"""dbt-duckdb plugin: registers the scoring UDFs on dbt's DuckDB connection.

profiles.yml (dbt renders the env vars; this is the one place they are read)::

    plugins:
      - module: python_udfs.plugin
        alias: clv
        config:
          model_path: "{{ env_var('CLV_MODEL_PATH', 'artifacts') }}"
          device: "{{ env_var('CLV_DEVICE', '') }}"     # cpu / cuda; empty = cuda if available
          export_path: "{{ env_var('CLV_EXPORT_PATH', 'warehouse/exports') }}"

Importing it imports neither torch nor transformers (a features-only build pays nothing).
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from python_udfs.settings import PluginConfig
from python_udfs.udfs import LazyScorer, register


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        config = PluginConfig.from_config(plugin_config)
        # One lazily loaded model per dbt process, shared by every connection.
        self.scorer = LazyScorer(config.model_path, config.device)
        # The marts' post-hook export_parquet() writes here (it reads this same config).
        if config.export_path:
            config.export_path.mkdir(parents=True, exist_ok=True)

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register(conn, scorer=self.scorer)
