"""Model versions in an artifacts folder: list them, promote one, roll back, retrain.

``<artifacts>/<version>/`` holds one trained model (:mod:`python_udfs.artifact`);
``<artifacts>/current`` names the version scoring uses; ``<artifacts>/promotions.json`` records
every change of ``current`` (by training, promote or rollback), oldest first::

    {"history": [{"version": "clv-...", "previous": "clv-..." | null,
                  "action": "train" | "promote" | "rollback", "at": "2026-...Z"}, ...]}

Both files are replaced atomically (write a temporary file, then ``os.replace``). Nothing here
imports torch except :func:`promote`, which loads the model to prove it works.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from python_udfs.artifact import (
    CURRENT_POINTER,
    ArtifactError,
    check_model_version,
    read_config,
    set_current,
)

logger = logging.getLogger(__name__)
HISTORY_FILE = "promotions.json"
ACTIONS = ("train", "promote", "rollback")
SUMMARY_METRICS = ("normalized_gini", "roc_auc")  # what `list` shows of the shipped model
NOT_CARRIED_OVER = frozenset(
    {"database", "output_dir", "report_dir", "export_predictions", "resume"}
)
# Keys of an older artifact's `training` record that hold a result, not the option of that name.
CONTEXT_KEYS = frozenset({"text_gate", "device"})
SHIPPED_METRICS_KEY = "transformer"  # training.evaluate.MODEL (not imported: it pulls numpy)


class LifecycleError(RuntimeError):
    """A version, the pointer or the promotion history does not allow the asked change."""


def current_version(artifacts_dir: Path) -> str | None:
    """The version `current` names, or None when there is no pointer."""
    pointer = Path(artifacts_dir) / CURRENT_POINTER
    if not pointer.is_file():
        return None
    return check_model_version(pointer.read_text().strip(), str(pointer))


def read_history(artifacts_dir: Path) -> list[dict]:
    """The promotion history, oldest first ([] when there is none yet)."""
    path = Path(artifacts_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    try:
        history = json.loads(path.read_text())["history"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise LifecycleError(
            f"cannot read {path}: {error}; fix or delete it (it only records promotions)"
        ) from error
    if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
        raise LifecycleError(f"{path}: 'history' must be a list of objects; fix or delete it")
    return history


def _write_history(artifacts_dir: Path, history: list[dict]) -> None:
    path = Path(artifacts_dir) / HISTORY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"history": history}, indent=1) + "\n")
    os.replace(tmp, path)


def point_current(artifacts_dir: Path, version: str, action: str) -> str | None:
    """Point `current` at `version` (atomically) and record it in the history; returns the
    version it pointed at before."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}")
    check_model_version(version, "point_current")
    previous = current_version(artifacts_dir)
    history = read_history(artifacts_dir)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    history.append({"version": version, "previous": previous, "action": action, "at": at})
    set_current(artifacts_dir, version)
    _write_history(artifacts_dir, history)
    logger.info("current: %s -> %s (%s)", previous, version, action)
    return previous


@dataclass(frozen=True)
class VersionInfo:
    """One version folder as `list` shows it."""

    version: str
    created_at: str
    mode: str
    inputs: str
    metrics: dict[str, float]
    is_current: bool
    problem: str | None = None  # why the folder is not a loadable artifact


def _created_at(directory: Path, training: dict) -> str:
    if isinstance(training.get("created_at"), str):
        return training["created_at"]
    stamp = (directory / "config.json").stat().st_mtime
    return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(timespec="seconds")


def describe_version(directory: Path, is_current: bool) -> VersionInfo:
    """What `list` shows of one version folder (a broken one says what is wrong)."""
    try:
        config = read_config(directory)
    except ArtifactError as error:
        return VersionInfo(directory.name, "?", "?", "?", {}, is_current, str(error))
    shipped = config.metrics.get(SHIPPED_METRICS_KEY, {})
    metrics = {k: shipped[k] for k in SUMMARY_METRICS if k in shipped}
    problem = None if (directory / "model.safetensors").is_file() else "no model.safetensors"
    created = _created_at(directory, config.training)
    return VersionInfo(
        config.model_version, created, config.mode, config.inputs, metrics, is_current, problem
    )


def list_versions(artifacts_dir: Path) -> list[VersionInfo]:
    """Every version folder (one holding a config.json), oldest first."""
    artifacts_dir = Path(artifacts_dir)
    if not artifacts_dir.is_dir():
        raise LifecycleError(f"no artifacts folder at {artifacts_dir.resolve()}; train first")
    try:
        current = current_version(artifacts_dir)
    except ArtifactError:
        current = None
    folders = [p for p in artifacts_dir.iterdir() if (p / "config.json").is_file()]
    infos = [describe_version(p, p.name == current) for p in folders]
    return sorted(infos, key=lambda info: (info.created_at, info.version))


def format_versions(infos: list[VersionInfo]) -> str:
    """A plain table: current marker, version, created, mode/inputs, metrics, problems."""
    if not infos:
        return "no model versions yet; train one with: clv-train fit"
    lines = []
    for info in infos:
        metrics = " ".join(f"{k}={v:.4f}" for k, v in info.metrics.items()) or "-"
        marker = "*" if info.is_current else " "
        extra = f"  BROKEN: {info.problem}" if info.problem else ""
        lines.append(
            f"{marker} {info.version}  {info.created_at}  {info.mode}/{info.inputs}  "
            f"{metrics}{extra}"
        )
    return "\n".join(lines) + "\n(* = current)"


def validate_version(artifacts_dir: Path, version: str) -> Path:
    """The version's folder, after proving it loads (config.json, weights, tokenizer)."""
    from python_udfs.artifact import load_artifact

    check_model_version(version, "promote")
    directory = Path(artifacts_dir) / version
    if not (directory / "config.json").is_file():
        known = ", ".join(i.version for i in list_versions(artifacts_dir)) or "none"
        raise LifecycleError(f"no version {version!r} in {artifacts_dir} (versions: {known})")
    if not (directory / "model.safetensors").is_file():
        raise LifecycleError(f"{directory} has no model.safetensors; it cannot be promoted")
    load_artifact(directory)  # raises ArtifactError naming what is wrong
    return directory


def promote(artifacts_dir: Path, version: str) -> str | None:
    """Point `current` at `version` once it loads; returns the version it replaced."""
    validate_version(artifacts_dir, version)
    if current_version(artifacts_dir) == version:
        raise LifecycleError(f"{version} is already current")
    return point_current(artifacts_dir, version, action="promote")


def rollback_target(history: list[dict], current: str | None) -> str:
    """The version that was current before `current` was last trained or promoted."""
    for event in reversed(history):
        if event.get("version") == current and event.get("action") in ("train", "promote"):
            previous = event.get("previous")
            if previous:
                return previous
            break
    raise LifecycleError(
        f"nothing to roll back to: the promotion history has no version before {current}; "
        "point current at a version with: clv-train promote VERSION"
    )


def rollback(artifacts_dir: Path) -> str:
    """Point `current` back at the version it replaced (validated first); returns it."""
    current = current_version(artifacts_dir)
    if current is None:
        raise LifecycleError(f"no current pointer in {artifacts_dir}; nothing to roll back")
    target = rollback_target(read_history(artifacts_dir), current)
    validate_version(artifacts_dir, target)
    point_current(artifacts_dir, target, action="rollback")
    return target


def retrain_defaults(artifacts_dir: Path, option_names: set[str]) -> tuple[str, dict]:
    """The current model's version and the training options it was trained with (those that
    are still options), for `retrain`. Where outputs went and whether to resume are not
    carried over."""
    from python_udfs.artifact import resolve_artifact

    directory = resolve_artifact(artifacts_dir)
    config = read_config(directory)
    wanted = option_names - NOT_CARRIED_OVER
    recorded = config.training.get("options")
    if not isinstance(recorded, dict):  # written before the options were recorded apart
        recorded = {k: v for k, v in config.training.items() if k not in CONTEXT_KEYS}
    return config.model_version, {k: v for k, v in recorded.items() if k in wanted}
