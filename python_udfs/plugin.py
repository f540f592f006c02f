"""dbt-duckdb plugin: registers the scoring UDFs and the event text encoder's
(python_udfs.event_encoder) on dbt's DuckDB connection.

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

from python_udfs import event_encoder, settings
from python_udfs.settings import PluginConfig
from python_udfs.udfs import LazyScorer, register


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        config = PluginConfig.from_config(plugin_config)
        # One lazily loaded model per dbt process, shared by every connection.
        self.scorer = LazyScorer(config.model_path, config.device)
        # The base LM of event_text_embeddings (setting event_text_encoder), loaded lazily.
        self.event_encoder = event_encoder.LazyEventEncoder(_event_text_encoder(), config.device)
        # The marts' post-hook export_parquet() writes here (it reads this same config).
        if config.export_path:
            config.export_path.mkdir(parents=True, exist_ok=True)

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register(conn, scorer=self.scorer)
        event_encoder.register(conn, self.event_encoder)


def _event_text_encoder() -> str:
    """The setting event_text_encoder (env CLV_EVENT_TEXT_ENCODER) as Python reads it; a bad
    configuration is left to dbt's setting() macro, which names it."""
    try:
        return str(settings.load().event_text_encoder)
    except settings.SettingsError:
        return ""
