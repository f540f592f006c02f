"""Resumable training: an interrupted and resumed training ends with the same weights as an
uninterrupted one; the checkpoint is safetensors + JSON; another configuration is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.checkpoint import (
    CheckpointError,
    RunCheckpoint,
    flatten_optimizer,
    unflatten_optimizer,
)
from training.config import TrainConfig
from training.train import main as train


class Interrupted(Exception):
    """Stands in for a killed process."""


def test_optimizer_state_round_trips_through_named_tensors():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 4)).sum().backward()
        optimizer.step()
    tensors, groups = flatten_optimizer(model, optimizer)
    assert set(tensors) >= {"0.weight.exp_avg", "0.weight.exp_avg_sq", "1.bias.step"}
    json.dumps(groups)  # the hyper-parameters are plain JSON
    fresh = torch.optim.AdamW(model.parameters(), lr=0.5)
    unflatten_optimizer(model, fresh, tensors, groups)
    restored, original = fresh.state_dict(), optimizer.state_dict()
    assert restored["param_groups"][0]["lr"] == 0.01
    for index, values in original["state"].items():
        for key, value in values.items():
            assert torch.equal(restored["state"][index][key], value), key


def _config(db: Path, out: Path, bert: Path, **overrides) -> TrainConfig:
    options = dict(
        database=db,
        output_dir=out,
        base_model=str(bert),
        mode="full",
        epochs=2,
        patience=2,
        batch_size=16,
        max_examples=64,
        validation="customers",
        variants="fused",
        text_gate=False,
        baselines=False,
        bootstrap_samples=10,
        checkpoint_every_steps=2,
        progress=False,
    )
    return TrainConfig(**{**options, **overrides})


def _interrupt_when(monkeypatch, stop) -> None:
    """Raise Interrupted right after the checkpoint save for which stop(run, state) holds."""
    save = RunCheckpoint.save

    def save_then_maybe_stop(self, state, *args):
        save(self, state, *args)
        if stop(self.directory.name, state):
            raise Interrupted

    monkeypatch.setattr(RunCheckpoint, "save", save_then_maybe_stop)


def test_interrupted_and_resumed_training_matches_the_straight_one(
    small_warehouse, tiny_bert, tmp_path, monkeypatch
):
    db = small_warehouse.db_path
    straight = train(_config(db, tmp_path / "straight", tiny_bert))
    assert not (tmp_path / "straight" / "checkpoint").exists()  # removed once shipped

    out = tmp_path / "resumed"
    with monkeypatch.context() as patch:  # killed after epoch 1 of 2 of the selection run
        _interrupt_when(
            patch, lambda run, s: "select" in run and (s.epoch, s.batches_done) == (1, 0)
        )
        with pytest.raises(Interrupted):
            train(_config(db, out, tiny_bert))
    saved = out / "checkpoint" / "fused-select-configured"
    state = json.loads((saved / "state.json").read_text())
    assert state["fit_state"]["epoch"] == 1 and state["scheduler"]["last_epoch"] == 4
    assert any(k.endswith(".exp_avg_sq") for k in load_file(str(saved / "optimizer.safetensors")))
    assert not [p for p in out.rglob("*") if p.suffix in (".pt", ".bin", ".pkl", ".pickle")]

    with pytest.raises(CheckpointError, match="holds the checkpoint of an unfinished training"):
        train(_config(db, out, tiny_bert))  # never overwritten without --resume
    with pytest.raises(CheckpointError, match=r"another training \(epochs: 2 -> 3\)"):
        train(_config(db, out, tiny_bert, epochs=3, resume=True))
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        train(_config(db, tmp_path / "empty", tiny_bert, resume=True))

    with monkeypatch.context() as patch:  # resumed, then killed mid-epoch in the refit
        _interrupt_when(patch, lambda run, s: "refit" in run and s.step == 2)
        with pytest.raises(Interrupted):
            train(_config(db, out, tiny_bert, resume=True))
    assert json.loads((saved / "state.json").read_text())["finished"] is True
    resumed = train(_config(db, out, tiny_bert, resume=True))

    expected = load_file(str(straight / "model.safetensors"))
    weights = load_file(str(resumed / "model.safetensors"))
    assert weights.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(weights[name], value), name
    ours, theirs = (json.loads((d / "config.json").read_text()) for d in (resumed, straight))
    assert ours["metrics"] == theirs["metrics"] and ours["clv_scale"] == theirs["clv_scale"]
    assert not (out / "checkpoint").exists()
