"""``clv-train COMMAND`` (= ``python -m training COMMAND``): train and manage model versions.

Commands: fit (the default when no command is given), list, promote VERSION, rollback,
retrain. Arguments are parsed before torch is imported, so ``--help`` and usage errors are
immediate; only fit, retrain and promote (which loads the model to check it) import torch.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, fields
from pathlib import Path

from python_udfs.artifact import ArtifactError, read_config, resolve_artifact
from training.config import TrainConfig, build_parser, parse_args
from training.lifecycle import (
    LifecycleError,
    format_versions,
    list_versions,
    promote,
    retrain_defaults,
    rollback,
)

logger = logging.getLogger("training")
PROG = "clv-train"
COMMANDS = {
    "fit": "train on the warehouse, write a new version and point current at it (default)",
    "list": "the versions in the artifacts folder: created, mode, metrics, which is current",
    "promote": "point current at VERSION, after checking that it loads",
    "rollback": "point current back at the version it replaced",
    "retrain": "fit again with the current model's settings, on the current warehouse",
}
EPILOG = (
    "commands (run `python -m training COMMAND --help` for each): "
    + "; ".join(f"{name}: {text}" for name, text in COMMANDS.items())
    + ". Without a command, `python -m training [options]` is `fit`."
)
NOISY_LOGGERS = ("httpx", "transformers", "huggingface_hub")
# Options of the current model that retrain does not carry over: outputs, resuming, the
# machine it ran on, and a pinned cutoff (retrain uses the warehouse's latest).
NOT_RETRAINED = frozenset({"cutoff", "device"})


def setup_logging() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def default_artifacts_dir() -> Path:
    """The project's model path (env CLV_MODEL_PATH, else dbt_project.yml)."""
    from python_udfs import settings

    return settings.load().model_path


def artifacts_parser(command: str, description: str) -> argparse.ArgumentParser:
    """A parser for the version commands: they share --output-dir."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {command}", description=description)
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="the artifacts folder (default: env CLV_MODEL_PATH, as for fit)",
    )
    return parser


def run_training(config: TrainConfig) -> Path:
    """Train (torch is imported here); a checkpoint problem exits with its message."""
    from training.checkpoint import CheckpointError
    from training.train import main as train

    logger.info(
        "warehouse %s -> artifacts %s (project configuration: dbt_project.yml + CLV_* env vars)",
        config.database,
        config.output_dir,
    )
    try:
        return train(config)
    except CheckpointError as error:
        raise SystemExit(f"{PROG}: {error}") from error


def fit_command(argv: list[str], prog: str = "python -m training") -> int:
    parser = build_parser(prog=prog, epilog=EPILOG)
    config = parse_args(argv, parser)  # before torch is imported
    run_training(config)
    return 0


def list_command(argv: list[str]) -> int:
    parser = artifacts_parser("list", COMMANDS["list"])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    infos = list_versions(args.output_dir or default_artifacts_dir())
    if args.json:
        sys.stdout.write(json.dumps([asdict(i) for i in infos], indent=1) + "\n")
    else:
        sys.stdout.write(format_versions(infos) + "\n")
    return 0


def promote_command(argv: list[str]) -> int:
    parser = artifacts_parser("promote", COMMANDS["promote"])
    parser.add_argument("version", metavar="VERSION", help="a version folder's name (see list)")
    args = parser.parse_args(argv)
    directory = args.output_dir or default_artifacts_dir()
    previous = promote(directory, args.version)
    logger.info("promoted %s (was %s) in %s", args.version, previous, directory)
    return 0


def rollback_command(argv: list[str]) -> int:
    parser = artifacts_parser("rollback", COMMANDS["rollback"])
    args = parser.parse_args(argv)
    directory = args.output_dir or default_artifacts_dir()
    target = rollback(directory)
    logger.info("rolled back: current is %s again in %s", target, directory)
    return 0


def retrain_config(argv: list[str]) -> TrainConfig:
    """The fit options of the current model (command-line options and --config win), after
    checking that the warehouse still has the model's horizons, features and text template."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--output-dir", type=Path)
    known, _ = pre.parse_known_args(argv)
    artifacts = known.output_dir or default_artifacts_dir()
    names = {f.name for f in fields(TrainConfig)} - NOT_RETRAINED
    try:
        version, options = retrain_defaults(artifacts, names)
    except ArtifactError:
        if not {"-h", "--help"} & set(argv):
            raise
        version, options = "none yet", {}  # --help works without a model
    description = (
        f"Train again with the settings of the current model ({version} in {artifacts}) on the "
        "current warehouse; any option given here overrides the model's."
    )
    parser = build_parser(prog=f"{PROG} retrain", description=description)
    config = parse_args(argv, parser, defaults=options)
    check_same_recipe(config.database, resolve_artifact(artifacts))
    return config


def check_same_recipe(database: Path, artifact: Path) -> None:
    """Refuse to retrain when the warehouse's horizons, declared features or text template
    differ from the current model's (that is a new model: train it with `fit`)."""
    from training.data import declared_feature_names, horizons

    model = read_config(artifact)
    horizon, churn_horizon, template = horizons(database)
    wanted = {
        "horizon_days": (model.horizon_days, horizon),
        "churn_horizon_days": (model.churn_horizon_days, churn_horizon),
        "text_template_version": (model.text_template_version, template),
        "features": (model.feature_names, declared_feature_names(database)),
    }
    differ = {k: v for k, v in wanted.items() if v[0] != v[1]}
    if differ:
        detail = "; ".join(f"{k}: model {a} vs warehouse {b}" for k, (a, b) in differ.items())
        raise LifecycleError(
            f"the warehouse {database} no longer matches the current model {model.model_version}"
            f" ({detail}); rebuild the warehouse with the model's settings, or train a new "
            f"model with `{PROG} fit`"
        )


def retrain_command(argv: list[str]) -> int:
    config = retrain_config(argv)
    run_training(config)
    return 0


HANDLERS = {
    "fit": lambda argv: fit_command(argv, prog=f"{PROG} fit"),
    "list": list_command,
    "promote": promote_command,
    "rollback": rollback_command,
    "retrain": retrain_command,
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch `[COMMAND] [options]`; no command (or options first) means fit."""
    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging()
    if not argv or argv[0] not in COMMANDS:
        return fit_command(argv)
    command, rest = argv[0], argv[1:]
    try:
        return HANDLERS[command](rest)
    except (LifecycleError, ArtifactError) as error:
        raise SystemExit(f"{PROG} {command}: {error}") from error
