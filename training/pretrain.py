"""Self-supervised pretraining of the behaviour encoder: masked-event modelling.

A share of each sequence's events (MASK_SHARE, at least one) is replaced by [MASK] tokens
(type, values and text hidden); the encoder's state at each masked position predicts
* the event type (cross-entropy),
* its log amount and log gap (smooth L1 on the event values), and
* what it was about: the pooled frozen text embedding of its texts, by an in-batch contrastive
  loss (InfoNCE, cosine similarity / TEXT_TEMPERATURE) when the model reads text.

It needs no labels, so it learns from every history it is given; which histories it may see
is the caller's choice (training.train: only rows whose cutoff is at or before the earliest
cutoff whose labels are evaluated, so it sees no event inside any evaluated label window).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from python_udfs.sequence import N_TYPES, BehaviourEncoder, SequenceSpec
from training.events import EventData
from training.loop import LENGTH_SORT_BATCHES

logger = logging.getLogger(__name__)
MASK_SHARE = 0.15
TEXT_TEMPERATURE = 0.1
VALUE_TARGETS = (2, 1)  # log_amount, log_gap columns of python_udfs.sequence.VALUE_NAMES


class PretrainHeads(nn.Module):
    def __init__(self, spec: SequenceSpec) -> None:
        super().__init__()
        self.type_head = nn.Linear(spec.width, N_TYPES)
        self.value_head = nn.Linear(spec.width, len(VALUE_TARGETS))
        self.text_head = nn.Linear(spec.width, spec.text_input_dim) if spec.uses_text else None


@dataclass
class PretrainResult:
    state: dict  # the encoder's weights (BehaviourEncoder.state_dict())
    losses: list[float]  # mean loss of each epoch
    rows: int
    seconds: float


def mask_positions(mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """[B, L] bool: MASK_SHARE of each sequence's real events, at least one per sequence."""
    draw = torch.rand(mask.shape, generator=generator)
    chosen = (draw < MASK_SHARE) & mask
    # the event with the smallest draw of each non-empty sequence, so none goes unmasked
    smallest = draw.masked_fill(~mask, 2.0).argmin(1)
    has = mask.any(1)
    chosen[torch.arange(len(mask))[has], smallest[has]] = True
    return chosen


def masked_event_loss(
    encoder: BehaviourEncoder, heads: PretrainHeads, batch, chosen: torch.Tensor
) -> torch.Tensor:
    """The pretraining loss of one batch with `chosen` events masked."""
    _, states = encoder.token_states(batch, replace=chosen)
    hidden = states[chosen]
    types = batch.type_ids[chosen]
    loss = nn.functional.cross_entropy(heads.type_head(hidden), types)
    targets = batch.values[chosen][:, list(VALUE_TARGETS)]
    loss = loss + nn.functional.smooth_l1_loss(heads.value_head(hidden), targets)
    if heads.text_head is not None and batch.text is not None and batch.has_text is not None:
        with_text = batch.has_text[chosen]
        if int(with_text.sum()) > 1:
            predicted = nn.functional.normalize(heads.text_head(hidden[with_text]), dim=-1)
            target = nn.functional.normalize(batch.text[chosen][with_text], dim=-1)
            logits = predicted @ target.T / TEXT_TEMPERATURE
            labels = torch.arange(len(logits))
            loss = loss + nn.functional.cross_entropy(logits, labels)
    return loss


def pretrain(
    spec: SequenceSpec,
    events: EventData,
    rows: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool = True,
    max_seconds: float | None = None,
) -> PretrainResult:
    """Masked-event pretraining of a fresh encoder of `spec` on the sequences of `rows`."""
    torch.manual_seed(seed)
    encoder, heads = BehaviourEncoder(spec), PretrainHeads(spec)
    parameters = [*encoder.parameters(), *heads.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    rows = rows[events.lengths[rows] > 0]
    steps = max(1, epochs * math.ceil(len(rows) / batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    started, losses = time.perf_counter(), []
    encoder.train()
    bar = tqdm(total=steps, desc="pretraining the behaviour encoder", unit="step",
               disable=not progress)  # fmt: skip
    with bar:
        for _ in range(epochs):
            total, seen = 0.0, 0
            for group in length_sorted_batches(rows, events.lengths, batch_size, rng):
                batch = events.batch(group, text=spec.uses_text)
                chosen = mask_positions(batch.mask, generator)
                loss = masked_event_loss(encoder, heads, batch, chosen)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
                schedule.step()
                total, seen = total + loss.item() * len(group), seen + len(group)
                bar.update()
                bar.set_postfix(loss=f"{total / seen:.4f}")
                if max_seconds and time.perf_counter() - started > max_seconds:
                    break
            losses.append(total / max(seen, 1))
            logger.info("pretraining epoch %d: masked-event loss %.4f", len(losses), losses[-1])
            if max_seconds and time.perf_counter() - started > max_seconds:
                logger.info("pretraining stopped at its time budget (%.0f s)", max_seconds)
                break
    state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    return PretrainResult(state, losses, len(rows), round(time.perf_counter() - started, 1))


def length_sorted_batches(
    rows: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffled batches of similar sequence lengths (sorted within windows of
    LENGTH_SORT_BATCHES batches, as the supervised loop does), so padding stays small."""
    order = rng.permutation(rows)
    window = batch_size * LENGTH_SORT_BATCHES
    parts = [order[i : i + window] for i in range(0, len(order), window)]
    order = np.concatenate([p[np.argsort(lengths[p], kind="stable")] for p in parts])
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [groups[i] for i in rng.permutation(len(groups))]
