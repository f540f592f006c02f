"""The fine-tuning loop: batches, optimiser, epochs, early stopping, and resumable state.

`Trainer.fit` trains one model; `training.train` decides which models to train. Batches are
drawn as row-index groups (cheap, on the host) at the start of each epoch and moved to the
device one at a time, just before their step.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

from python_udfs.encoding import encode_texts, predict_from_embeddings
from python_udfs.hardware import autocast, resolve_precision
from python_udfs.model import ClvModel
from training.config import TrainConfig
from training.data import Examples
from training.losses import multitask_loss_parts, multitask_row_losses

if TYPE_CHECKING:
    from training.checkpoint import RunCheckpoint
    from training.events import EventData

logger = logging.getLogger(__name__)
HEAD_THREADS = 1  # torch threads for the small MLP steps on precomputed embeddings
LENGTH_SORT_BATCHES = 50  # text modes sort rows by token count within windows of this many batches
EVAL_SEED = 0  # seed of the (unshuffled) evaluation batching; it draws no random numbers
MIN_SECONDS = 1e-9  # guards rates against a zero-length timing


def load_encoder(path: str, device: torch.device):
    """Encoder and tokenizer from a local checkpoint directory (no hub, no remote code)."""
    if not Path(path).is_dir():
        raise FileNotFoundError(f"base model {path} is not a local checkpoint directory")
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if tokenizer.pad_token is None:  # decoder LMs: pad with EOS, on the right
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    encoder = AutoModel.from_pretrained(path, trust_remote_code=False)
    return encoder.to(device), tokenizer


def prepare_encoder(cfg: TrainConfig, model: ClvModel, mode: str) -> None:
    """Freeze the encoder (head mode, numeric-only models) or wrap it in LoRA adapters."""
    if mode == "head" or not model.uses_text:
        model.encoder.requires_grad_(False)
    elif mode == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_rank,
            lora_alpha=cfg.resolved_lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules="all-linear",
        )
        model.encoder = get_peft_model(model.encoder, lora)


def finalize_encoder(model: ClvModel, mode: str) -> None:
    """Merge LoRA adapters so the artifact is a plain model."""
    if mode == "lora" and model.uses_text:
        model.encoder = model.encoder.merge_and_unload()


def linear_schedule(warmup: int, total_steps: int, floor: float):
    """LR multiplier: linear warm-up over `warmup` steps, then linear decay to `floor`."""

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(floor, 1 - (step - warmup) / max(1, total_steps - warmup))

    return schedule


def build_optimizer(
    cfg: TrainConfig, model: ClvModel, total_steps: int, lr: float, mode: str
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with linear warm-up and linear decay; the encoder gets its own learning rate."""
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    encoder_ids = {id(p) for p in encoder_params}
    head_params = [p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids]
    groups = [{"params": head_params, "lr": lr}]
    if encoder_params:
        groups.append({"params": encoder_params, "lr": lr if mode == "lora" else cfg.encoder_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    warmup = max(1, int(cfg.warmup_fraction * total_steps))
    schedule = linear_schedule(warmup, total_steps, cfg.lr_floor)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


@dataclass
class Batch:
    """One step's rows: their indices (host) and numeric inputs + labels (on the device)."""

    index: np.ndarray
    numeric: torch.Tensor
    revenue: torch.Tensor
    churned: torch.Tensor


@dataclass
class FitState:
    """Where one training run stands: everything the loop carries between steps, so a
    checkpoint restores it exactly. `epoch_rng_state` is the shuffling generator's state at the
    start of the epoch in progress (`batches_done` of its batches are trained)."""

    epoch: int = 0  # completed epochs
    step: int = 0
    batches_done: int = 0
    running: float = 0.0  # summed loss of the epoch in progress
    seen: int = 0  # rows of the epoch in progress
    best_loss: float = math.inf
    best_epoch: int = 0
    stale: int = 0
    stopped: bool = False
    epoch_rng_state: Mapping[str, Any] | None = None
    step_seconds: list[float] = field(default_factory=list)


class Trainer:
    """The loop for all modes. In head mode the encoder is frozen and embeddings are
    precomputed once per unique text; otherwise each batch is tokenized and encoded. A
    sequence model (model.sequence) reads each batch's event sequences from `events`, padded to
    the batch's longest, and trains its behaviour encoder with the head."""

    def __init__(
        self,
        cfg: TrainConfig,
        model: ClvModel,
        tokenizer,
        examples: Examples,
        numeric: np.ndarray,
        device: torch.device,
        embeddings: torch.Tensor | None = None,
        events: EventData | None = None,
    ) -> None:
        self.cfg, self.model, self.tokenizer, self.examples = cfg, model, tokenizer, examples
        self.events = events if model.sequence is not None else None
        if model.sequence is not None and events is None:
            raise ValueError("a sequence model needs the event sequences (events=...)")
        self.numeric = torch.as_tensor(numeric)
        self.revenue = torch.as_tensor(examples.revenue, dtype=torch.float32)
        self.churned = torch.as_tensor(examples.churned, dtype=torch.float32)
        self.device = device
        self.on_gpu = device.type == "cuda"
        self.precision = resolve_precision(cfg.precision, device)
        self.batch_size = cfg.resolved_batch_size(self.on_gpu)
        if not model.uses_text and self.events is None:  # numeric-only: a dummy embedding
            embeddings = torch.zeros(len(examples), 1)
        self.embeddings: torch.Tensor | None = embeddings
        self.encode_texts_per_s: float | None = None
        self.warm_started = False  # the model starts from a fitted one (evaluated as epoch 0)

    @functools.cached_property
    def lengths(self) -> np.ndarray:
        """Token count of every row's text, or event count of its sequence (text and sequence
        modes batch similar lengths together)."""
        if self.events is not None:
            return self.events.lengths
        tokens = self.tokenizer(
            self.examples.texts, truncation=True, max_length=self.cfg.max_length
        )["input_ids"]
        return np.array([len(ids) for ids in tokens])

    def precompute_embeddings(self) -> torch.Tensor:
        """Encode each unique text once (head mode)."""
        started = time.perf_counter()
        self.embeddings = encode_texts(
            self.model,
            self.tokenizer,
            self.examples.texts,
            self.cfg.max_length,
            self.precision,
            device=self.device,
            progress=self.cfg.progress,
        )
        seconds = time.perf_counter() - started
        unique = len(set(self.examples.texts))
        self.encode_texts_per_s = unique / max(seconds, MIN_SECONDS)
        logger.info(
            "encoded %d unique texts (of %d rows) in %.1f s: %.1f texts/s",
            unique,
            len(self.examples),
            seconds,
            self.encode_texts_per_s,
        )
        return self.embeddings

    # ---- batches ---------------------------------------------------------------------------

    def batch_groups(
        self, index: np.ndarray, shuffle: bool, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """Row indices of each batch, in order; text modes group similar lengths to cut
        padding. All shuffling draws happen here, before the first batch is used."""
        index = rng.permutation(index) if shuffle else np.asarray(index)
        if self.embeddings is None:
            window = self.batch_size * LENGTH_SORT_BATCHES
            parts = np.array_split(index, max(1, math.ceil(len(index) / window)))
            index = np.concatenate(
                [part[np.argsort(self.lengths[part], kind="stable")] for part in parts]
            )
        size = self.batch_size
        groups = [index[i : i + size] for i in range(0, len(index), size)]
        if shuffle:
            groups = [groups[i] for i in rng.permutation(len(groups))]
        return groups

    def to_batch(self, group: np.ndarray) -> Batch:
        """One batch's numeric inputs and labels, moved to the device."""
        rows = torch.as_tensor(group)
        return Batch(
            group,
            *(
                t[rows].to(self.device, non_blocking=True)
                for t in (self.numeric, self.revenue, self.churned)
            ),
        )

    def batches(self, index: np.ndarray, shuffle: bool, rng: np.random.Generator):
        """Batches of `index`, each moved to the device only when it is asked for."""
        for group in self.batch_groups(index, shuffle, rng):
            yield self.to_batch(group)

    # ---- forward and loss ------------------------------------------------------------------

    def sequence_vectors(self, index: np.ndarray) -> torch.Tensor:
        """The behaviour encoder's vectors [B, width] of rows `index` (with gradients)."""
        assert self.model.sequence is not None and self.events is not None
        events = self.events.batch(index, text=self.model.sequence.spec.uses_text)
        return self.model.sequence(events.to(self.device))

    def outputs(self, batch: Batch):
        if self.events is not None:
            return self.model.head_forward(self.sequence_vectors(batch.index), batch.numeric)
        if self.embeddings is not None:
            emb = self.embeddings[torch.as_tensor(batch.index)].to(self.device)
            return self.model.head_forward(emb, batch.numeric)
        tokens = self.tokenizer(
            [self.examples.texts[i] for i in batch.index],
            padding=True,
            truncation=True,
            max_length=self.cfg.max_length,
            return_tensors="pt",
        )
        if self.on_gpu:
            tokens = {k: v.pin_memory() for k, v in tokens.items()}
        tokens = {k: v.to(self.device, non_blocking=True) for k, v in tokens.items()}
        with autocast(self.precision, self.device):
            return self.model(tokens["input_ids"], tokens["attention_mask"], batch.numeric)

    def loss(self, batch: Batch):
        ziln, churn = self.outputs(batch)
        return multitask_loss_parts(
            ziln.float(), churn.float(), batch.revenue, batch.churned, self.cfg.churn_weight
        )

    @torch.no_grad()
    def row_losses(self, index: np.ndarray) -> np.ndarray:
        """[len(index)] each row's loss (the gate's paired comparison on the same rows)."""
        self.model.eval()
        out = []
        for batch in self.batches(index, shuffle=False, rng=np.random.default_rng(EVAL_SEED)):
            ziln, churn = self.outputs(batch)
            losses = multitask_row_losses(
                ziln.float(), churn.float(), batch.revenue, batch.churned, self.cfg.churn_weight
            )
            out.append((batch.index, losses.cpu().numpy()))
        order = np.concatenate([o[0] for o in out])
        values = np.concatenate([o[1] for o in out])
        position = {row: i for i, row in enumerate(order)}
        return values[[position[row] for row in index]]

    @torch.no_grad()
    def mean_loss(self, index: np.ndarray) -> float:
        self.model.eval()
        total = 0.0
        for batch in self.batches(index, shuffle=False, rng=np.random.default_rng(EVAL_SEED)):
            total += self.loss(batch).total.item() * len(batch.index)
        return total / len(index)

    # ---- the loop --------------------------------------------------------------------------

    def fit(
        self,
        train: np.ndarray,
        early: np.ndarray | None,
        optimizer,
        scheduler,
        epochs: int | None = None,
        checkpoint: RunCheckpoint | None = None,
    ) -> dict:
        """Train; with `early` rows keep the best epoch (early stopping), without them train
        exactly `epochs` epochs (the refit). With `checkpoint`, resume from its saved state and
        save the state every N steps and at each epoch end. On precomputed embeddings the steps
        are a small MLP, which runs single-threaded: 21 ms vs 1,008 ms per step with 2 threads
        on the busy 2-core machine (benchmarks/RESULTS.md)."""
        if self.embeddings is None or self.events is not None or self.on_gpu:
            return self._fit(train, early, optimizer, scheduler, epochs, checkpoint)
        threads = torch.get_num_threads()
        torch.set_num_threads(HEAD_THREADS)
        try:
            return self._fit(train, early, optimizer, scheduler, epochs, checkpoint)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, train, early, optimizer, scheduler, epochs, checkpoint) -> dict:
        epochs = epochs or self.cfg.epochs
        if checkpoint is not None and checkpoint.finished:
            return checkpoint.restore_finished(self.model)
        rng = np.random.default_rng(self.cfg.seed)
        state, best_state = FitState(), None
        if checkpoint is not None and checkpoint.exists:
            state, best_state = checkpoint.restore(self.model, optimizer, scheduler)
        elif self.warm_started and early is not None:
            # a warm start (the numeric model, training.variants) is epoch 0: an epoch must
            # beat it to count, so the richer model never ends up worse than where it began
            state.best_loss = self.mean_loss(early)
            best_state = {
                k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
            }
            logger.info("epoch 0 (warm start): early-stopping loss %.4f", state.best_loss)
        while not state.stopped and state.epoch < epochs:
            self.train_epoch(train, rng, optimizer, scheduler, state, epochs, checkpoint)
            best_state = self.end_epoch(early, state, epochs, best_state)
            if checkpoint is not None and not state.stopped and state.epoch < epochs:
                checkpoint.save(state, self.model, optimizer, scheduler, best_state)
        if best_state is not None:
            self.model.load_state_dict(best_state)
        result = self.fit_summary(state, early is not None)
        if checkpoint is not None:
            checkpoint.finish(self.model, result)
        return result

    def reached_max_steps(self, state: FitState) -> bool:
        max_steps = self.cfg.max_steps
        if not max_steps:
            return False
        return state.step >= max_steps

    def train_epoch(
        self,
        train: np.ndarray,
        rng: np.random.Generator,
        optimizer,
        scheduler,
        state: FitState,
        epochs: int,
        checkpoint: RunCheckpoint | None,
    ) -> None:
        """The steps of one epoch (or of its rest, after a mid-epoch resume)."""
        self.model.train()
        if self.embeddings is not None or self.events is not None:
            self.model.encoder.eval()
        if state.epoch_rng_state is None:
            state.epoch_rng_state = rng.bit_generator.state
        rng.bit_generator.state = state.epoch_rng_state  # a resumed epoch redraws its order
        groups = self.batch_groups(train, True, rng)
        self.epoch_started = time.perf_counter()
        bar = tqdm(
            total=len(groups),
            initial=state.batches_done,
            desc=f"epoch {state.epoch + 1}",
            unit="batch",
            disable=not self.cfg.progress,
            leave=False,
        )
        with bar:
            for group in groups[state.batches_done :]:
                self.train_step(self.to_batch(group), optimizer, scheduler, state)
                bar.update()
                bar.set_postfix(loss=f"{state.running / state.seen:.4f}")
                if self.reached_max_steps(state):
                    break
                mid_epoch = state.batches_done < len(groups)
                if checkpoint is not None and mid_epoch and checkpoint.due(state.step):
                    checkpoint.save(state, self.model, optimizer, scheduler, None)
        state.epoch_rng_state = rng.bit_generator.state  # the next epoch starts from here

    def train_step(self, batch: Batch, optimizer, scheduler, state: FitState) -> None:
        """One optimiser step on one batch."""
        started = time.perf_counter()
        parts = self.loss(batch)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for p in self.model.parameters() if p.requires_grad], self.cfg.grad_clip
        )
        optimizer.step()
        scheduler.step()
        state.step += 1
        state.batches_done += 1
        state.step_seconds.append(time.perf_counter() - started)
        state.running += parts.total.item() * len(batch.index)
        state.seen += len(batch.index)

    def end_epoch(
        self, early: np.ndarray | None, state: FitState, epochs: int, best_state: dict | None
    ) -> dict | None:
        """Close an epoch: log it, keep the best weights (early stopping), decide whether to
        stop. Returns the best weights so far (None: the current ones)."""
        epoch, train_loss = state.epoch + 1, state.running / max(state.seen, 1)
        seconds = time.perf_counter() - self.epoch_started
        state.epoch, state.batches_done, state.running, state.seen = epoch, 0, 0.0, 0
        if early is None:
            logger.info(
                "refit epoch %d/%d: train loss %.4f | %.1f s", epoch, epochs, train_loss, seconds
            )
            state.best_epoch = epoch
            state.stopped = self.reached_max_steps(state)
            return best_state
        early_loss = self.mean_loss(early)
        improved = early_loss < state.best_loss - self.cfg.min_improvement
        logger.info(
            "epoch %d: train loss %.4f | early-stopping loss %.4f%s | %.1f s",
            epoch,
            train_loss,
            early_loss,
            " (best)" if improved else "",
            seconds,
        )
        if improved:
            state.best_loss, state.best_epoch, state.stale = early_loss, epoch, 0
            best_state = {
                k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
            }
        else:
            state.stale += 1
        patience = self.cfg.sequence_patience if self.events is not None else self.cfg.patience
        state.stopped = state.stale >= patience or self.reached_max_steps(state)
        return best_state

    def fit_summary(self, state: FitState, early_stopped: bool) -> dict:
        """What the artifact records about a finished run."""
        median = float(np.median(state.step_seconds)) if state.step_seconds else None
        return {
            "best_epoch": state.best_epoch,
            "early_stopping_loss": state.best_loss if early_stopped else None,
            "steps": state.step,
            "seconds_per_step": median,
            "examples_per_s": round(self.batch_size / median, 1) if median else None,
        }

    # ---- after training --------------------------------------------------------------------

    def calibrate(self, index: np.ndarray) -> float:
        """Scale that makes total predicted revenue match the actual total on `index` (rows
        the model was fitted or early-stopped on, never the test rows)."""
        predicted = self.predict(index)["predicted_clv"].sum()
        actual = self.examples.revenue[index].sum()
        return float(actual / predicted) if predicted > 0 and actual > 0 else 1.0

    @torch.no_grad()
    def predict(self, index: np.ndarray, clv_scale: float = 1.0) -> dict[str, np.ndarray]:
        self.model.eval()
        if self.events is not None:
            emb = torch.cat(
                [
                    self.sequence_vectors(part).cpu()
                    for part in np.array_split(index, max(1, math.ceil(len(index) / 512)))
                ]
            )
        elif self.embeddings is not None:
            emb = self.embeddings[torch.as_tensor(index)]
        else:
            texts = [self.examples.texts[i] for i in index]
            emb = encode_texts(
                self.model,
                self.tokenizer,
                texts,
                self.cfg.max_length,
                self.precision,
                device=self.device,
                progress=self.cfg.progress,
            )
        return predict_from_embeddings(
            self.model, emb, self.numeric[index].numpy(), self.device, clv_scale
        )
