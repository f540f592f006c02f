"""The scoring plugin's config (profiles.yml) is resolved in one place, python_udfs.settings:
the plugin, settings.load(), default_device() and the export macro all read it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.dbt import dbt_command, invoke
from python_udfs import settings
from python_udfs.features import BgNbdInputs
from python_udfs.hardware import default_device
from python_udfs.plugin import Plugin


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(settings.ENV_PREFIX) or name == settings.PROFILE_TARGET_ENV:
            monkeypatch.delenv(name)
    return monkeypatch


def test_plugin_config_is_typed_and_empty_values_mean_unset() -> None:
    config = settings.PluginConfig.from_config(
        {"model_path": " models ", "export_path": "", "device": ""}
    )
    assert config == settings.PluginConfig(Path("models"), None, None)


def test_a_plugin_config_without_model_path_is_refused_naming_the_fix() -> None:
    with pytest.raises(settings.SettingsError, match="CLV_MODEL_PATH"):
        settings.PluginConfig.from_config({"model_path": "", "device": "cpu"})


def test_settings_read_the_plugin_config_of_profiles_yml(clean_env, tmp_path) -> None:
    clean_env.setenv("CLV_MODEL_PATH", str(tmp_path / "models"))
    clean_env.setenv("CLV_EXPORT_PATH", "")
    clean_env.setenv("CLV_DEVICE", "cpu")
    loaded = settings.load()
    assert loaded.model_path == tmp_path / "models"
    assert loaded.export_path is None and loaded.device == "cpu"


def test_the_plugin_creates_the_export_folder_of_its_config(tmp_path) -> None:
    plugin = Plugin.__new__(Plugin)
    plugin.initialize({"model_path": str(tmp_path / "m"), "export_path": str(tmp_path / "x")})
    assert (tmp_path / "x").is_dir()
    assert plugin.scorer.model_path == tmp_path / "m" and plugin.scorer.device is None


def test_default_device_takes_the_configured_device(clean_env) -> None:
    clean_env.setenv("CLV_DEVICE", "cpu")
    assert default_device().type == "cpu"
    assert default_device("meta").type == "meta"  # an explicit request wins


def test_bgnbd_inputs_refuse_a_wrong_parameter_count() -> None:
    good = {"bgnbd": [1, 2, 3, 4], "gamma_gamma": None, "horizon_weeks": 4,
            "churn_horizon_weeks": 4}  # fmt: skip
    assert BgNbdInputs.from_dict(good).bgnbd == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(ValueError, match=r"bgnbd \(r, alpha, a, b\) needs 4 numbers, got 3"):
        BgNbdInputs.from_dict({**good, "bgnbd": [1, 2, 3]})
    with pytest.raises(ValueError, match="gamma_gamma"):
        BgNbdInputs.from_dict({**good, "gamma_gamma": [1, 2]})


def test_dbt_command_puts_target_logs_and_vars_under_the_work_folder(tmp_path) -> None:
    command = dbt_command(["build"], tmp_path, {"a": 1}, target="ci")
    assert command[1] == "build" and command[-2:] == ["--vars", '{"a": 1}']
    assert str(tmp_path / "target") in command and str(tmp_path / "logs") in command
    assert command[command.index("--target") + 1] == "ci"


def test_the_export_macro_reads_the_plugin_config(clean_env, tmp_path) -> None:
    sql = "select '{{ clv_plugin_config().get(\"export_path\") }}' as export_path"
    env = {"CLV_DUCKDB_PATH": str(tmp_path / "w.duckdb"), "CLV_EXPORT_PATH": str(tmp_path / "x")}
    run: subprocess.CompletedProcess = invoke(
        ["compile", "--inline", sql], tmp_path, env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"select '{tmp_path / 'x'}' as export_path" in run.stdout
