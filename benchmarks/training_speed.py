"""Encoder throughput and seconds per optimiser step for each fine-tuning mode.

    python -m benchmarks.training_speed [--database warehouse/clv.duckdb] [--steps 10]

Uses the real bundled all-MiniLM-L6-v2 and real behaviour texts of the latest training cutoff.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from python_udfs.encoding import encode_texts
from python_udfs.features import FeatureScaler
from python_udfs.hardware import default_device
from python_udfs.model import ClvModel, pooling_for
from training.config import TrainConfig
from training.data import load_examples, read_table
from training.train import (
    Trainer,
    build_optimizer,
    default_base_model,
    load_encoder,
    prepare_encoder,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="warehouse/clv.duckdb")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args(argv)
    device = default_device()
    latest = read_table(args.database, "select max(cutoff_date) as c from training_examples")
    examples = load_examples(args.database, [str(latest.column("c")[0].as_py())])
    numeric = FeatureScaler.fit(examples.feature_names, examples.numeric).transform(
        examples.numeric
    )
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {device}"}

    encoder, tokenizer = load_encoder(default_base_model(), device)
    model = ClvModel(encoder, numeric.shape[1], pooling=pooling_for(encoder.config)).to(device)
    texts = list(dict.fromkeys(examples.texts))[: args.texts]
    tokens = np.mean([len(t) for t in tokenizer(texts)["input_ids"]])
    started = time.perf_counter()
    encode_texts(model, tokenizer, texts, 64, "fp32", device=device)
    seconds = time.perf_counter() - started
    result["encode"] = {
        "texts": len(texts),
        "mean_tokens": round(float(tokens), 1),
        "texts_per_s": round(len(texts) / seconds, 1),
    }

    for mode in ("head", "lora", "full"):
        cfg = TrainConfig(database=args.database, mode=mode, progress=False)
        encoder, tokenizer = load_encoder(default_base_model(), device)
        model = ClvModel(encoder, numeric.shape[1], pooling=pooling_for(encoder.config))
        model = model.to(device)
        prepare_encoder(cfg, model, mode)
        embeddings = None
        if mode == "head":
            embeddings = torch.zeros(len(examples), encoder.config.hidden_size)
        trainer = Trainer(cfg, model, tokenizer, examples, numeric, device, embeddings)
        optimizer, _ = build_optimizer(cfg, model, args.steps, cfg.lr, mode)
        model.train()
        rng = np.random.default_rng(0)
        batches = trainer.batches(np.arange(len(examples)), shuffle=True, rng=rng)
        timings = []
        for _, batch in zip(range(args.steps + 1), batches, strict=False):
            t0 = time.perf_counter()
            loss = trainer.loss(batch).total
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            timings.append(time.perf_counter() - t0)
        per_step = float(np.median(timings[1:]))
        result[mode] = {
            "batch_size": trainer.batch_size,
            "seconds_per_step": round(per_step, 4),
            "examples_per_s": round(trainer.batch_size / per_step, 1),
        }
        print(mode, result[mode], flush=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
