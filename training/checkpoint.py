"""Resumable training state in ``<output_dir>/checkpoint/`` (safetensors + JSON, never pickle).

Layout::

    checkpoint/manifest.json              what the run trains (config, data fingerprint, ...)
    checkpoint/<run>/model.safetensors    the model's weights
    checkpoint/<run>/optimizer.safetensors  AdamW state, one tensor per parameter and key
                                          (``<parameter name>.exp_avg`` ...)
    checkpoint/<run>/best.safetensors     the best weights so far (early stopping), if any
    checkpoint/<run>/state.json           step, epoch, RNG states (as lists), scheduler and
                                          optimiser hyper-parameters, or the result once
                                          the run is finished

One ``<run>`` folder per model the protocol trains (``fused-select-configured``,
``fused-refit-configured``, ...). A resumed training skips finished runs (their weights and
results are read back) and continues the unfinished one from its last save; with the same
configuration and data it ends with the same weights as an uninterrupted training.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from training.loop import FitState

logger = logging.getLogger(__name__)
CHECKPOINT_DIR = "checkpoint"
MANIFEST = "manifest.json"
STATE = "state.json"
CHECKPOINT_FORMAT = 1
# Settings that do not change what is trained (where it is written, how it is shown, how often
# it is saved): a checkpoint resumes under other values of these.
NON_TRAINING_OPTIONS = frozenset(
    {
        "database", "output_dir", "report_dir", "export_predictions", "progress", "resume",
        "checkpoint", "checkpoint_every_steps", "device",
    }
)  # fmt: skip


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or was written by another training."""


def checkpoint_dir(output_dir: Path) -> Path:
    return Path(output_dir) / CHECKPOINT_DIR


def training_identity(config: dict, **facts: object) -> dict:
    """What a checkpoint must match to be resumed: the training options (without
    NON_TRAINING_OPTIONS) and facts of the run (data fingerprint, features, horizons, mode)."""
    options = {k: v for k, v in config.items() if k not in NON_TRAINING_OPTIONS}
    return json.loads(json.dumps({"format": CHECKPOINT_FORMAT, **options, **facts}))


def _describe_differences(saved: dict, wanted: dict) -> str:
    keys = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
    return "; ".join(f"{k}: {str(saved.get(k))[:60]} -> {str(wanted.get(k))[:60]}" for k in keys)


def open_checkpoints(output_dir: Path, identity: dict, resume: bool) -> Path:
    """The checkpoint folder for this training, after checking it against `identity`.

    resume: it must exist and match (else CheckpointError naming the differences). Without
    resume an unfinished checkpoint is never overwritten: CheckpointError says how to go on."""
    directory = checkpoint_dir(output_dir)
    manifest = directory / MANIFEST
    if not resume:
        if directory.exists():
            raise CheckpointError(
                f"{directory} holds the checkpoint of an unfinished training; resume it with "
                f"--resume (same options), or delete {directory} to start over"
            )
        directory.mkdir(parents=True)
        _write_json(manifest, identity)
        return directory
    if not manifest.is_file():
        raise CheckpointError(
            f"--resume: no checkpoint at {directory} (expected {MANIFEST}); "
            "train without --resume to start a new run"
        )
    saved = _read_json(manifest)
    if saved != identity:
        raise CheckpointError(
            f"--resume: the checkpoint at {directory} was written by another training "
            f"({_describe_differences(saved, identity)}); resume with the options and warehouse "
            f"it was written with, or delete {directory} to start over"
        )
    logger.info("resuming from the checkpoint at %s", directory)
    return directory


def close_checkpoints(output_dir: Path) -> None:
    """Remove the checkpoint once the artifact it led to is written."""
    directory = checkpoint_dir(output_dir)
    if directory.exists():
        shutil.rmtree(directory)
        logger.info("training finished: removed its checkpoint %s", directory)


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1) + "\n")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {path}: {error}; delete it to start over") from error


def _cpu_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies (copies: safetensors refuses shared storage)."""
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in state.items()}


# ---- optimizer and RNG state as named tensors and JSON ---------------------------------------


def parameter_names(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The name of each optimiser parameter, in the optimiser's own (state_dict) order."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


def flatten_optimizer(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """AdamW state as `{"<parameter>.<key>": tensor}` (exp_avg, exp_avg_sq, step) and the
    parameter groups (hyper-parameters, parameters by name) as JSON."""
    names = parameter_names(model, optimizer)
    state_dict = optimizer.state_dict()
    tensors = {
        f"{names[index]}.{key}": torch.as_tensor(value)
        for index, values in state_dict["state"].items()
        for key, value in values.items()
    }
    groups = [
        {**group, "params": [names[i] for i in group["params"]]}
        for group in state_dict["param_groups"]
    ]
    return _cpu_tensors(tensors), groups


def unflatten_optimizer(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, tensors: dict, groups: list[dict]
) -> None:
    """Load what flatten_optimizer wrote into `optimizer`."""
    names = parameter_names(model, optimizer)
    index = {name: i for i, name in enumerate(names)}
    saved_names = [n for group in groups for n in group["params"]]
    if saved_names != names:
        raise CheckpointError("the checkpoint's optimiser parameters differ from the model's")
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        name, _, field_name = key.rpartition(".")
        state.setdefault(index[name], {})[field_name] = value
    param_groups = [
        {
            **group,
            "params": [index[n] for n in group["params"]],
            **({"betas": tuple(group["betas"])} if "betas" in group else {}),
        }
        for group in groups
    ]
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


def rng_states() -> dict:
    """torch's CPU (and CUDA) generator states as lists of bytes."""
    states = {"torch": torch.get_rng_state().tolist()}
    if torch.cuda.is_available():
        states["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return states


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(torch.tensor(states["torch"], dtype=torch.uint8))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in states["cuda"]])


# ---- one training run ------------------------------------------------------------------------


class RunCheckpoint:
    """The saved state of one training run (one model of the protocol)."""

    def __init__(self, root: Path, name: str, every_steps: int | None) -> None:
        self.directory = Path(root) / name
        self.every_steps = every_steps

    @property
    def exists(self) -> bool:
        return (self.directory / STATE).is_file()

    @property
    def finished(self) -> bool:
        return self.exists and bool(_read_json(self.directory / STATE).get("finished"))

    def due(self, step: int) -> bool:
        """Whether to save after `step` (every `every_steps` steps; epoch ends always save)."""
        every_steps = self.every_steps
        if not every_steps:
            return False
        return step % every_steps == 0

    def _write(self, tensors: dict[str, dict[str, torch.Tensor]], state: dict) -> None:
        """Write the run's files into a fresh folder, then swap it in (a crash mid-write
        leaves the previous save intact)."""
        tmp = self.directory.with_name(self.directory.name + ".tmp")
        old = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, values in tensors.items():
            save_file(values, str(tmp / f"{name}.safetensors"), metadata={"format": "pt"})
        (tmp / STATE).write_text(json.dumps(state, indent=1) + "\n")
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            os.replace(self.directory, old)
        os.replace(tmp, self.directory)
        shutil.rmtree(old, ignore_errors=True)

    def save(
        self,
        state: FitState,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        best_state: dict | None,
    ) -> None:
        """Save the loop state after a step or an epoch."""
        optimizer_tensors, groups = flatten_optimizer(model, optimizer)
        tensors = {"model": _cpu_tensors(model.state_dict()), "optimizer": optimizer_tensors}
        if best_state is not None:
            tensors["best"] = _cpu_tensors(best_state)
        self._write(
            tensors,
            {
                "finished": False,
                "fit_state": asdict(state),
                "has_best": best_state is not None,
                "param_groups": groups,
                "scheduler": scheduler.state_dict(),
                "rng": rng_states(),
            },
        )
        logger.info("checkpoint %s: epoch %d, step %d", self.directory, state.epoch, state.step)

    def restore(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> tuple[FitState, dict | None]:
        """Load weights, optimiser, scheduler and RNG states; the loop state and best weights."""
        saved = _read_json(self.directory / STATE)
        model.load_state_dict(self._tensors("model"))
        unflatten_optimizer(model, optimizer, self._tensors("optimizer"), saved["param_groups"])
        scheduler.load_state_dict(saved["scheduler"])
        set_rng_states(saved["rng"])
        best = self._tensors("best") if saved["has_best"] else None
        state = FitState(**saved["fit_state"])
        logger.info("resumed %s at epoch %d, step %d", self.directory, state.epoch, state.step)
        return state, best

    def finish(self, model: torch.nn.Module, result: dict) -> None:
        """Save the run's final weights and result (a resumed training reuses them)."""
        self._write({"model": _cpu_tensors(model.state_dict())}, {"finished": True, **result})

    def restore_finished(self, model: torch.nn.Module) -> dict:
        """Load a finished run's final weights; its result."""
        saved = _read_json(self.directory / STATE)
        model.load_state_dict(self._tensors("model"))
        logger.info("reused the finished run %s", self.directory)
        return {k: v for k, v in saved.items() if k != "finished"}

    def _tensors(self, name: str) -> dict[str, torch.Tensor]:
        path = self.directory / f"{name}.safetensors"
        try:
            return load_file(str(path))
        except (OSError, ValueError) as error:
            raise CheckpointError(
                f"cannot read {path}: {error}; delete it to start over"
            ) from error
