"""Run this dbt project in a subprocess: the one runner behind tests/conftest.py `run_dbt`,
the benchmarks and anything else that shells out to dbt. Importable without torch or dbt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")
# Every run is offline and sends no usage statistics (as the Makefile exports).
OFFLINE_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def dbt_command(
    args: Sequence[str],
    work: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    target: str | None = None,
) -> list[str]:
    """The argv of `dbt <args>` on this project, with its target/ and logs/ under `work`."""
    command = [str(DBT), *args, "--project-dir", str(ROOT), "--profiles-dir", str(ROOT)]
    if target:
        command += ["--target", target]
    command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    if dbt_vars is not None:
        command += ["--vars", json.dumps(dbt_vars)]
    return command


def dbt_env(env: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with OFFLINE_ENV and `env` on top."""
    return {**(os.environ if base is None else base), **OFFLINE_ENV, **env}


def invoke(
    args: Sequence[str],
    work: Path,
    env: Mapping[str, str],
    dbt_vars: Mapping[str, Any] | None = None,
    target: str | None = None,
    **run: Any,
) -> subprocess.CompletedProcess:
    """Run `dbt <args>` (dbt_command) from the project folder with dbt_env(env); `run` goes to
    subprocess.run (check, capture_output, stdout ...)."""
    command = dbt_command(args, work, dbt_vars, target)
    return subprocess.run(command, cwd=ROOT, env=dbt_env(env), **run)


def model_times(work: Path, models_only: bool = False) -> dict[str, float]:
    """{node name: execution seconds} from the run_results.json of the last run in `work`."""
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results
        if not models_only or r["unique_id"].startswith("model.")
    }


def build_times(
    args: list[str], work: Path, dbt_vars: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, float]:
    """`dbt <args>` (failing loudly, output discarded); returns {model: execution seconds}."""
    invoke(args, work, env, dbt_vars, check=True, stdout=subprocess.DEVNULL)
    return model_times(work)
