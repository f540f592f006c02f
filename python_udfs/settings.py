"""One project configuration for every command: dbt, training, scoring and the summary.

The settings live in one documented file, ``dbt_project.yml`` (``vars:``), each written as
``"{{ env_var('CLV_<NAME>', '<default>') }}"``; the warehouse, model and export paths live in
``profiles.yml`` (``CLV_DUCKDB_PATH``, ``CLV_MODEL_PATH``, ``CLV_EXPORT_PATH``, ``CLV_DEVICE``).
dbt reads them through the typed macro ``setting(name)`` (macros/settings.sql); Python reads
the SAME files and env vars here, with the same validation, so::

    export CLV_RAW_PATH=/data/export CLV_DUCKDB_PATH=/data/shop.duckdb CLV_HORIZON_DAYS=90
    dbt build --exclude tag:scoring && python -m training && dbt build --select tag:scoring

all use the user's data. Importable without torch or dbt.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
ENV_PREFIX = "CLV_"
PROFILE_TARGET_ENV = "DBT_TARGET"
DEFAULT_TARGET = "dev"

# name -> kind; macros/settings.sql `setting_kinds()` holds the same table (a test checks it).
SETTINGS: dict[str, str] = {
    "raw_path": "path",
    "raw_format": "raw_format",
    "as_of_date": "optional_date",
    "training_cutoffs": "cutoffs",
    "horizon_days": "positive_int",
    "churn_horizon_days": "positive_int",
    "lifecycle_new_days": "positive_int",
    "lifecycle_at_risk_days": "positive_int",
    "lifecycle_churned_days": "positive_int",
    "value_tier_high_share": "share",
    "value_tier_low_share": "share",
    "churn_risk_high": "share",
    "churn_risk_medium": "share",
    "min_population_share": "share",
    "implausible_amount_factor": "positive_int",
    "text_token_budget": "positive_int",
    "embedding_retention_days": "positive_int",
    "discount_rate_monthly": "share",
    "lifetime_months": "positive_int",
    "gross_margin": "share",
    "event_sequence_length": "sequence_length",
    "event_text_encoder": "optional_path",
}
RAW_FORMATS = ("csv", "parquet")
CUTOFF_KEYS = ("start", "step_days", "count")
DEFAULT_STEP_DAYS = 91
SEQUENCE_LENGTH_RANGE = (16, 512)  # event_sequence_length: events kept per customer and cutoff
MIN_YEAR = 1900
_INT = re.compile(r"[0-9]+")
_SHARE = re.compile(r"[0-9]+([.][0-9]*)?|[.][0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BAD_PATH_CHARS = re.compile(r"[\n\r\x00]")


class SettingsError(ValueError):
    """A project setting is missing or has a value of the wrong type."""


def env_name(name: str) -> str:
    """The env var that overrides setting `name`: CLV_<NAME>."""
    return ENV_PREFIX + name.upper()


def _where(name: str, raw: Any) -> str:
    source = f"var '{name}' in dbt_project.yml, env {env_name(name)}"
    return f"setting {name} = {str(raw)[:200]} ({source})"


def _date(text: Any, where: str) -> str:
    text = str(text).strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        parsed = dt.date.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{where}: {text[:50]} is not a date (expected YYYY-MM-DD)") from None
    if parsed.year < MIN_YEAR:
        raise SettingsError(f"{where}: {text} is not a date (expected YYYY-MM-DD)")
    return text


def _positive_int(raw: Any, where: str) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not _INT.fullmatch(text) or int(text) < 1:
        raise SettingsError(f"{where}: expected a positive whole number")
    return int(text)


def _cutoffs(raw: Any, where: str) -> dict | list[str]:
    value = raw
    if isinstance(raw, str):
        try:
            value = yaml.safe_load(raw) if raw.strip() else []
        except yaml.YAMLError as error:
            raise SettingsError(f"{where}: not JSON / YAML ({error})") from None
    if isinstance(value, dict):
        unknown = [k for k in value if k not in CUTOFF_KEYS]
        if unknown:
            raise SettingsError(
                f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                f"expected {', '.join(CUTOFF_KEYS)}"
            )
        result: dict[str, Any] = {
            "step_days": _positive_int(value.get("step_days", DEFAULT_STEP_DAYS), where),
            "count": _positive_int(value.get("count", 1), where),
        }
        if value.get("start"):
            result["start"] = _date(value["start"], where)
        return result
    if isinstance(value, list):
        return [_date(item, where) for item in value]
    raise SettingsError(f"{where}: expected a list of dates or {{start, step_days, count}}")


def validate(name: str, raw: Any) -> Any:
    """The typed value of setting `name`, or SettingsError naming the var and the env var
    (the same rules as the dbt macro `setting()`)."""
    if name not in SETTINGS:
        raise SettingsError(f"unknown setting {name!r}; known: {', '.join(sorted(SETTINGS))}")
    kind = SETTINGS[name]
    where = _where(name, raw)
    text = "" if raw is None else str(raw).strip()
    if kind == "path":
        if not text or _BAD_PATH_CHARS.search(text):
            raise SettingsError(f"{where}: expected a non-empty folder path without line breaks")
        return text
    if kind == "optional_path":
        if _BAD_PATH_CHARS.search(text):
            raise SettingsError(f"{where}: expected a folder path without line breaks, or empty")
        return text
    if kind == "sequence_length":
        low, high = SEQUENCE_LENGTH_RANGE
        if not _INT.fullmatch(text) or isinstance(raw, bool) or not low <= int(text) <= high:
            raise SettingsError(f"{where}: expected a whole number from {low} to {high}")
        return int(text)
    if kind == "raw_format":
        if text not in RAW_FORMATS:
            raise SettingsError(f"{where}: expected csv or parquet")
        return text
    if kind == "optional_date":
        return None if text in ("", "none", "None", "null") else _date(text, where)
    if kind == "positive_int":
        return _positive_int(raw, where)
    if kind == "share":
        if not _SHARE.fullmatch(text) or float(text) > 1:
            raise SettingsError(f"{where}: expected a number from 0 to 1")
        return float(text)
    return _cutoffs(raw, where)


def _env_var(name: str, default: str | None = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is None:
        raise SettingsError(f"env var {name} is required by the project configuration")
    return default


def render(value: Any) -> Any:
    """A dbt_project.yml / profiles.yml value with its `env_var()` calls rendered."""
    if not isinstance(value, str) or "{{" not in value:
        return value
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return environment.from_string(value).render(env_var=_env_var)


def _load_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"cannot read the project configuration {path}: {error}") from error


PLUGIN_MODULE = "python_udfs.plugin"


@dataclass(frozen=True)
class PluginConfig:
    """The scoring plugin's config in profiles.yml (its env vars rendered): the one place the
    model path, the export folder and the device are resolved, for dbt and Python alike."""

    model_path: Path
    export_path: Path | None  # None (CLV_EXPORT_PATH empty): no Parquet copies of the marts
    device: str | None  # None (CLV_DEVICE empty): cuda when available, else cpu

    @classmethod
    def from_config(cls, config: dict[str, Any], where: str = "profiles.yml") -> PluginConfig:
        """Validate the rendered `config` of the plugin entry; a missing path names the fix."""
        model_path = str(config.get("model_path") or "").strip()
        if not model_path:
            raise SettingsError(
                f"{where}: the {PLUGIN_MODULE} config has no model_path. Set it there as "
                "\"{{ env_var('CLV_MODEL_PATH', 'artifacts') }}\", and CLV_MODEL_PATH, if set, "
                "to a folder."
            )
        export_path = str(config.get("export_path") or "").strip()
        device = str(config.get("device") or "").strip()
        return cls(Path(model_path), Path(export_path) if export_path else None, device or None)


@dataclass(frozen=True)
class Settings:
    """Every setting, typed. `vars` maps each dbt var to its value."""

    vars: dict[str, Any]
    duckdb_path: Path
    model_path: Path
    export_path: Path | None
    device: str | None

    def __getattr__(self, name: str) -> Any:
        if name in SETTINGS:
            return self.vars[name]
        raise AttributeError(name)

    def to_json(self) -> str:
        return json.dumps(
            {
                **self.vars,
                "duckdb_path": str(self.duckdb_path),
                "model_path": str(self.model_path),
                "export_path": str(self.export_path) if self.export_path else None,
                "device": self.device,
            },
            sort_keys=True,
        )


def load(project_dir: Path | str = PROJECT_DIR, target: str | None = None) -> Settings:
    """Read dbt_project.yml + profiles.yml of `project_dir` with the current env vars."""
    project_dir = Path(project_dir)
    project = _load_yaml(project_dir / "dbt_project.yml")
    raw_vars = project.get("vars") or {}
    missing = [name for name in SETTINGS if name not in raw_vars]
    if missing:
        raise SettingsError(f"{project_dir / 'dbt_project.yml'} lacks the var(s) {missing}")
    values = {name: validate(name, render(raw_vars[name])) for name in SETTINGS}

    profiles = _load_yaml(project_dir / "profiles.yml")
    profile = profiles.get(project.get("profile", ""), {})
    target = target or os.environ.get(PROFILE_TARGET_ENV) or profile.get("target", DEFAULT_TARGET)
    output = (profile.get("outputs") or {}).get(target)
    if not output:
        raise SettingsError(f"{project_dir / 'profiles.yml'} has no target {target!r}")
    where = f"{project_dir / 'profiles.yml'} (target {target})"
    entry = next((p for p in output.get("plugins") or [] if p.get("module") == PLUGIN_MODULE), None)
    if entry is None:
        raise SettingsError(f"{where} has no {PLUGIN_MODULE} entry under plugins")
    config = {key: render(value) for key, value in (entry.get("config") or {}).items()}
    plugin = PluginConfig.from_config(config, where)
    return Settings(
        vars=values,
        duckdb_path=Path(render(output["path"])),
        model_path=plugin.model_path,
        export_path=plugin.export_path,
        device=plugin.device,
    )
