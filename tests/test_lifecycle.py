"""Model versions: clv-train list / promote / rollback / retrain on a copy of tiny artifacts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from python_udfs.artifact import resolve_artifact
from training import cli
from training.lifecycle import HISTORY_FILE, current_version, read_history, rollback_target


@pytest.fixture
def versions(tiny_artifacts, tmp_path) -> tuple[Path, str, str]:
    """A copy of tiny_artifacts with a second version (the same weights, renamed)."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(tiny_artifacts, artifacts)
    first = current_version(artifacts)
    second = "clv-29990101T000000-copy"
    shutil.copytree(artifacts / first, artifacts / second)
    config = json.loads((artifacts / second / "config.json").read_text())
    config["model_version"] = second
    config["training"]["created_at"] = "2999-01-01T00:00:00+00:00"
    (artifacts / second / "config.json").write_text(json.dumps(config))
    return artifacts, first, second


def run(*argv: str) -> int:
    return cli.main(list(argv))


def test_list_shows_versions_metrics_and_the_current_one(versions, capsys):
    artifacts, first, second = versions
    assert run("list", "--output-dir", str(artifacts)) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith(f"* {first}") and "normalized_gini=" in table[0]
    assert table[1].startswith(f"  {second}  2999-01-01")
    run("list", "--output-dir", str(artifacts), "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["is_current"]) for v in listed] == [(first, True), (second, False)]
    assert set(listed[0]["metrics"]) == {"normalized_gini", "roc_auc"}


def test_promote_and_rollback_move_the_pointer_and_keep_a_history(versions):
    artifacts, first, second = versions
    assert run("promote", second, "--output-dir", str(artifacts)) == 0
    assert current_version(artifacts) == second and resolve_artifact(artifacts).name == second
    history = read_history(artifacts)
    assert [(e["action"], e["version"], e["previous"]) for e in history] == [
        ("train", first, None),
        ("promote", second, first),
    ]
    assert run("rollback", "--output-dir", str(artifacts)) == 0
    assert current_version(artifacts) == first
    assert read_history(artifacts)[-1]["action"] == "rollback"
    with pytest.raises(SystemExit, match="nothing to roll back to"):
        run("rollback", "--output-dir", str(artifacts))  # first was trained with no predecessor
    assert current_version(artifacts) == first
    assert not list(artifacts.glob("*.tmp"))  # pointer and history were replaced atomically


def test_promote_refuses_what_does_not_load(versions):
    artifacts, first, second = versions
    with pytest.raises(SystemExit, match=rf"no version 'clv-missing'.*versions: {first}"):
        run("promote", "clv-missing", "--output-dir", str(artifacts))
    (artifacts / second / "model.safetensors").unlink()
    with pytest.raises(SystemExit, match=r"has no model\.safetensors"):
        run("promote", second, "--output-dir", str(artifacts))
    (artifacts / second / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(SystemExit, match="cannot read"):
        run("promote", second, "--output-dir", str(artifacts))
    with pytest.raises(SystemExit, match="is already current"):
        run("promote", first, "--output-dir", str(artifacts))
    with pytest.raises(SystemExit, match="not a plain name"):
        run("promote", "../elsewhere", "--output-dir", str(artifacts))
    assert current_version(artifacts) == first
    assert [e["action"] for e in read_history(artifacts)] == ["train"]


def test_rollback_walks_back_through_promotions():
    history = [
        {"version": "a", "previous": None, "action": "train"},
        {"version": "b", "previous": "a", "action": "train"},
        {"version": "c", "previous": "b", "action": "promote"},
        {"version": "b", "previous": "c", "action": "rollback"},
    ]
    assert rollback_target(history, "c") == "b"
    assert rollback_target(history, "b") == "a"  # not back to c: rollbacks are not promotions


def test_unreadable_history_is_an_error_not_a_reset(versions):
    artifacts, _, second = versions
    (artifacts / HISTORY_FILE).write_text("{not json")
    with pytest.raises(SystemExit, match=f"cannot read .*{HISTORY_FILE}"):
        run("promote", second, "--output-dir", str(artifacts))


def test_retrain_reuses_the_current_models_settings(versions, small_warehouse, capsys):
    artifacts, first, _ = versions
    db = str(small_warehouse.db_path)
    config = cli.retrain_config(["--output-dir", str(artifacts), "--database", db])
    trained = json.loads((artifacts / first / "config.json").read_text())["training"]
    assert (config.mode, config.epochs, config.grid, config.text_gate) == ("head", 2, "none", False)
    assert config.base_model == trained["base_model"] and config.output_dir == artifacts
    config = cli.retrain_config(["--output-dir", str(artifacts), "--database", db, "--epochs", "1"])
    assert config.epochs == 1  # the command line wins
    assert run("retrain", "--output-dir", str(artifacts), "--database", db, "--epochs", "1") == 0
    new = current_version(artifacts)
    assert new != first and read_history(artifacts)[-1]["previous"] == first
    assert run("rollback", "--output-dir", str(artifacts)) == 0
    assert current_version(artifacts) == first


def test_retrain_refuses_a_warehouse_with_other_horizons(versions, small_warehouse):
    artifacts, first, _ = versions
    path = artifacts / first / "config.json"
    config = json.loads(path.read_text())
    config["horizon_days"] = 30
    path.write_text(json.dumps(config))
    with pytest.raises(SystemExit, match=r"no longer matches .*horizon_days: model 30 vs"):
        run("retrain", "--output-dir", str(artifacts), "--database", str(small_warehouse.db_path))


@pytest.mark.parametrize("command", ["fit", "list", "promote", "rollback", "retrain"])
def test_every_command_has_help(command, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run(command, "--output-dir", str(tmp_path), "--help")
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"clv-train {command}" in out and "--output-dir" in out


def test_no_command_means_fit(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "run_training", seen.append)
    assert run("--epochs", "3", "--mode", "head") == 0
    assert run("fit", "--epochs", "4") == 0
    assert [c.epochs for c in seen] == [3, 4] and seen[0].mode == "head"


def test_version_commands_import_no_torch(versions):
    artifacts, _, _ = versions
    code = (
        "import sys; from training.cli import main\n"
        f"main(['list', '--output-dir', {str(artifacts)!r}])\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
