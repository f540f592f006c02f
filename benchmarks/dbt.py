"""Run this dbt project from a benchmark and read back per-model execution times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")


def run_dbt(args: list[str], work: Path, dbt_vars: dict, env: dict[str, str]) -> dict[str, float]:
    """`dbt <args>` with target and logs under `work`; returns {model: execution seconds}."""
    subprocess.run(
        [str(DBT), *args, "--profiles-dir", str(ROOT), "--project-dir", str(ROOT),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
         "--vars", json.dumps(dbt_vars)],
        check=True,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}
