"""`make lint` is pre-commit, whose hooks run offline with the tools pinned in pyproject.toml."""

from __future__ import annotations

import shlex
import subprocess

import yaml

from benchmarks.dbt import ROOT

HOOKS = ("check-yaml", "ruff-check", "ruff-format", "mypy", "sqlfluff-lint", "sqlfluff-lint-macros")


def test_make_lint_runs_every_pre_commit_hook_on_all_files() -> None:
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "lint"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "pre-commit run --all-files" in dry, dry


def test_hooks_are_local_and_call_the_project_tools() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]  # nothing to download
    hooks = config["repos"][0]["hooks"]
    assert tuple(hook["id"] for hook in hooks) == HOOKS
    for hook in hooks:
        assert hook["language"] == "system", hook["id"]
        executable = ROOT / shlex.split(hook["entry"])[0]
        assert executable.exists(), f"{hook['id']}: {executable} missing (make setup)"
