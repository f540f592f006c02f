"""The training CLI: typed from the dataclass, grouped, --config FILE, no torch before parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from training.config import OPTION_GROUPS, TrainConfig, build_parser, parse_args


def test_every_option_is_in_one_group_and_typed_from_its_annotation():
    grouped = [name for names in OPTION_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(f.name for f in fields(TrainConfig))
    config = parse_args(["--max-examples", "5", "--no-text-gate", "--report-dir", "out"])
    assert config.max_examples == 5 and config.text_gate is False
    assert config.report_dir == Path("out")
    with pytest.raises(SystemExit):
        parse_args(["--batch-size", "many"])


def test_help_names_each_default_once():
    parser = build_parser()
    formatter = parser._get_formatter()
    helps = {a.dest: formatter._get_help_string(a) for a in parser._actions if a.help}
    assert all(text.count("(default:") <= 1 for text in helps.values()), helps
    assert (
        helps["max_length"].startswith("max tokens") and "text_token_budget" in helps["max_length"]
    )
    text = " ".join(parser.format_help().split())
    assert "maximum epochs (default: 40)" in text
    assert "(default: None)" not in text


def test_config_file_sets_options_and_the_command_line_wins(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"epochs": 3, "lr": 0.01, "report_dir": "reports"}))
    config = parse_args(["--config", str(path), "--lr", "0.5"])
    assert (config.epochs, config.lr, config.report_dir) == (3, 0.5, Path("reports"))
    path.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(SystemExit, match="unknown option"):
        parse_args(["--config", str(path)])


def test_help_imports_no_torch():
    code = (
        "import sys, contextlib, io; from training.__main__ import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
