"""Daily scoring at scale (issue 11): a synthetic shop of N customers through features, a first
full scoring build and the next day's (as_of_date + 1 day), then the encoder's efficiency
against the matmul ceiling and the latency of one ad-hoc clv_score() call.

    python -m benchmarks.scale --customers 100000 [--customers 1000000] [--out DIR]

Per size, in order: generate the shop (python -m shopdata synthetic, seed 0); `dbt build
--selector features` (one training cutoff); train a small fused model once (head mode, 20,000
rows, text gate off, so that scoring runs the encoder; its time is not part of the table) and
reuse it for every size; `dbt build --selector scoring` (first full scoring); then the next
day: features and scoring again with as_of_date + 1 day. Wall times include dbt's start-up;
peak RSS is the dbt process's (/usr/bin/time). Results: <out>/scale.json and a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from benchmarks.dbt import ROOT, dbt_command, model_times
from python_udfs.schema import MIN_BATCH_ROWS

OUT = ROOT / "benchmarks" / "out" / "scale"
PYTHON = sys.executable
TRAIN_ROWS = 20_000
LATENCY_QUERIES = 100
# MiniLM-L6 (all-MiniLM-L6-v2): 6 layers, hidden 384, feed-forward 1536.
ENCODER_LAYERS, HIDDEN, FFN = 6, 384, 1536


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run `command`; (wall seconds, peak RSS in MiB). Output goes to `log`; fails loudly."""
    rss_file = log.with_suffix(".rss")
    started = time.perf_counter()
    with log.open("w") as out:
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *command],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"{' '.join(command[:4])} failed (exit {result.returncode}); see {log}")
    return seconds, int(rss_file.read_text().split()[-1]) / 1024


def dbt(selector: str, env: dict[str, str], work: Path, name: str) -> dict:
    """`dbt build --selector <selector>`: wall seconds, peak RSS and per-model seconds."""
    command = dbt_command(["build", "--selector", selector], work)
    seconds, rss = timed(command, env, work / f"{name}.log")
    models = {model: round(t, 2) for model, t in model_times(work, models_only=True).items()}
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(rss), "models": models}


def encoder_flops_per_text(padded_tokens: float) -> float:
    """FLOPs of one MiniLM-L6 forward at `padded_tokens` (matmuls; 2 FLOPs per MAC)."""
    per_token = 4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN + 2 * padded_tokens * HIDDEN
    return 2 * ENCODER_LAYERS * per_token * padded_tokens


def run_size(customers: int, out: Path, model: Path | None) -> tuple[dict, Path]:
    work = out / f"n{customers}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db, raw = work / "warehouse.duckdb", work / "raw"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLV_")}
    env.update(
        CLV_DUCKDB_PATH=str(db), CLV_RAW_PATH=str(raw), CLV_RAW_FORMAT="parquet",
        CLV_EXPORT_PATH=str(work / "exports"), CLV_TRAINING_CUTOFFS='{"count": 1}',
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
    )  # fmt: skip
    result: dict = {"customers": customers}
    seconds, rss = timed(
        [PYTHON, "-m", "shopdata", "synthetic", "--customers", str(customers), "--seed", "0",
         "--out", str(raw), "--no-progress"], env, work / "generate.log",
    )  # fmt: skip
    result["generate"] = {"seconds": round(seconds, 1), "peak_rss_mib": round(rss)}
    partial = work / "partial.json"  # what is done so far, should a long run be stopped
    partial.write_text(json.dumps(result, indent=2))
    result["features"] = dbt("features", env, work, "features")
    partial.write_text(json.dumps(result, indent=2))
    if model is None:
        model = out / "artifacts"
        shutil.rmtree(model, ignore_errors=True)
        seconds, _ = timed(
            [PYTHON, "-m", "training", "--database", str(db), "--output-dir", str(model),
             "--mode", "head", "--validation", "customers", "--test-fraction", "0.2",
             "--max-examples", str(TRAIN_ROWS), "--variants", "fused", "--no-text-gate",
             "--no-baselines", "--grid", "none", "--epochs", "3", "--no-progress"],
            env, work / "train.log",
        )  # fmt: skip
        result["train_seconds_not_timed_below"] = round(seconds, 1)
    env["CLV_MODEL_PATH"] = str(model)
    with duckdb.connect(str(db), read_only=True) as con:
        as_of = con.execute("select max(cutoff_date) from customer_features").fetchone()[0]
        result["customers_scored"] = con.execute(
            "select count(*) from customer_features"
        ).fetchone()[0]
    result["first_scoring"] = dbt("scoring", env, work, "scoring_first")
    partial.write_text(json.dumps(result, indent=2))
    with duckdb.connect(str(db), read_only=True) as con:
        result["first_texts_embedded"] = con.execute(
            "select count(*) from text_embeddings"
        ).fetchone()[0]
    env["CLV_AS_OF_DATE"] = str(as_of + dt.timedelta(days=1))
    result["next_day_features"] = dbt("features", env, work, "features_next")
    partial.write_text(json.dumps(result, indent=2))
    result["next_day_scoring"] = dbt("scoring", env, work, "scoring_next")
    with duckdb.connect(str(db), read_only=True) as con:
        total = con.execute("select count(*) from text_embeddings").fetchone()[0]
        result["next_day_texts_embedded"] = total - result["first_texts_embedded"]
    first, nxt = result["first_scoring"], result["next_day_scoring"]
    embed_s = first["models"]["text_embeddings"]
    result["customers_per_s_first_scoring"] = round(result["customers_scored"] / first["seconds"])
    result["distinct_texts_per_s"] = round(result["first_texts_embedded"] / embed_s, 1)
    result["next_day_scoring_share_of_first"] = round(nxt["seconds"] / first["seconds"], 3)
    result["next_day_total_share_of_first_total"] = round(
        (result["next_day_features"]["seconds"] + nxt["seconds"])
        / (result["features"]["seconds"] + first["seconds"]),
        3,
    )
    return result, model


def encoder_efficiency(db: Path, model: Path, texts: int = 2048) -> dict:
    """texts/s of the scorer's encoder on `texts` distinct texts of the warehouse, its GFLOP/s,
    and the fp32 / bf16 matmul ceilings measured in the same process, at 1 and all threads."""
    import torch

    from python_udfs.encoding import bucket_length
    from python_udfs.scoring import Scorer

    with duckdb.connect(str(db), read_only=True) as con:
        sample = [
            r[0]
            for r in con.sql(
                f"select distinct behaviour_text from customer_features order by hash("
                f"behaviour_text) limit {texts}"
            ).fetchall()
        ]
    scorer = Scorer(model, device="cpu")
    ids = scorer.tokenizer(sample, truncation=True, max_length=scorer.config.max_length)
    padded = statistics.mean(bucket_length(len(t)) for t in ids["input_ids"])
    result = {"precision": scorer.config.precision, "mean_padded_tokens": round(padded, 1)}

    def ceiling(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        started = time.perf_counter()
        for _ in range(reps):
            a @ b
        return 2 * n**3 * reps / (time.perf_counter() - started) / 1e9

    threads = torch.get_num_threads()
    for n_threads in sorted({1, threads}):
        torch.set_num_threads(n_threads)
        scorer._cache.clear()
        started = time.perf_counter()
        scorer.embed(sample)
        rate = len(sample) / (time.perf_counter() - started)
        gflops = rate * encoder_flops_per_text(padded) / 1e9
        ceilings = {"fp32": ceiling(torch.float32), "bf16": ceiling(torch.bfloat16)}
        result[f"threads_{n_threads}"] = {
            "texts_per_s": round(rate, 1),
            "encoder_gflops": round(gflops, 1),
            "fp32_matmul_gflops": round(ceilings["fp32"], 1),
            "bf16_matmul_gflops": round(ceilings["bf16"], 1),
            "share_of_ceiling_of_its_precision": round(gflops / ceilings[result["precision"]], 3),
        }
    torch.set_num_threads(threads)
    return result


def _percentiles(seconds: list[float]) -> dict:
    seconds = sorted(seconds)
    return {
        "p50_ms": round(1000 * seconds[len(seconds) // 2], 1),
        "p99_ms": round(1000 * seconds[min(len(seconds) - 1, int(0.99 * len(seconds)))], 1),
    }


def adhoc_latency(db: Path, model: Path) -> dict:
    """p50 / p99 for one customer on a warm connection (register): clv_score() on the text
    (encoder + head), and clv_score_embedded() on the text's stored embedding (head only)."""
    from python_udfs.udfs import register

    con = duckdb.connect(str(db), read_only=True)
    names = register(con, model, device="cpu").artifact_config().feature_names
    struct = "struct_pack(" + ", ".join(f"{n} := {n}" for n in names) + ")"
    ids = [
        r[0]
        for r in con.sql(
            f"select customer_id from customer_features order by hash(customer_id) "
            f"limit {LATENCY_QUERIES + 1}"
        ).fetchall()
    ]
    query = (
        f"select clv_score(behaviour_text, {struct}) from customer_features where customer_id = ?"
    )
    stored = (
        f"select clv_score_embedded(e.embedding, {struct}) from customer_features as f "
        f"join text_embeddings as e on e.text_hash = md5_number(f.behaviour_text) "
        f"and e.encoder_fingerprint = (select clv_encoder_fingerprint()) where f.customer_id = ?"
    )
    result: dict = {"queries": LATENCY_QUERIES, "min_batch_rows": MIN_BATCH_ROWS}
    for name, sql in (("clv_score", query), ("clv_score_embedded_stored", stored)):
        con.execute(sql, [ids[0]]).fetchall()  # warm: loads the model
        seconds = []
        for customer in ids[1:]:
            started = time.perf_counter()
            assert len(con.execute(sql, [customer]).fetchall()) == 1
            seconds.append(time.perf_counter() - started)
        result[name] = _percentiles(seconds)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, action="append", help="repeatable")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--model", type=Path, help="an artifacts folder to score with (default: train one)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "sizes": [],
    }
    model = args.model
    for customers in args.customers or [100_000]:
        result, model = run_size(customers, args.out, model)
        report["sizes"].append(result)
        (args.out / "scale.json").write_text(json.dumps(report, indent=2))
        print(json.dumps(result, indent=2), flush=True)
    smallest = args.out / f"n{report['sizes'][0]['customers']}" / "warehouse.duckdb"
    report["encoder"] = encoder_efficiency(smallest, model)
    report["adhoc_latency"] = adhoc_latency(smallest, model)
    (args.out / "scale.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: report[k] for k in ("encoder", "adhoc_latency")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
