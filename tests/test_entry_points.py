"""Console entry points in pyproject.toml and the ``python -m shopdata`` sub-command help."""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from shopdata.__main__ import COMMANDS
from shopdata.__main__ import main as shopdata_main

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _scripts() -> dict[str, str]:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)["project"]["scripts"]


def _resolve(target: str) -> Callable[..., object]:
    """``module:attribute`` -> the object, as the console-script wrapper resolves it."""
    module_name, _, attribute = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def test_declared_entry_points() -> None:
    assert set(_scripts()) >= {"clv-shopdata", "clv-train"}


@pytest.mark.parametrize("name", sorted(_scripts()))
def test_entry_point_is_a_callable(name: str) -> None:
    target = _scripts()[name]
    assert ":" in target, f"{name} = {target!r} names no function (want 'module:function')"
    assert callable(_resolve(target)), f"{name} = {target!r} is not callable"


def test_shopdata_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        shopdata_main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_shopdata_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        shopdata_main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m shopdata {command}")
    assert "--out" in out
