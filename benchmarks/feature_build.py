"""Time `dbt run` of the feature models on synthetic shops of growing size, split by model.

    python -m benchmarks.feature_build [--customers 10000 100000 1000000] [--training-cutoffs 3]

For each size: generate the shop once (cached under benchmarks/out/), then build into a fresh
DuckDB file (a) the scoring path only (`+customer_features`, no training cutoffs) and
(b) every feature model with `--training-cutoffs` training cutoffs (models that need a trained
model, tag:scoring, are timed by benchmarks.scoring). Per-model times come from dbt's
run_results.json. Results go to benchmarks/out/feature_build.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.dbt import ROOT, build_times
from shopdata.synthetic import generate_shop, write_shop

OUT = ROOT / "benchmarks" / "out"


def ensure_shop(n_customers: int) -> Path:
    """Generate (once) a seeded synthetic shop of n_customers as Parquet."""
    folder = OUT / f"shop_{n_customers}"
    if not (folder / "events.parquet").exists():
        write_shop(generate_shop(n_customers, seed=0), folder)
    return folder


def build(raw: Path, label: str, select: str | None, training_cutoffs: object) -> dict:
    """Build into a fresh database; return wall time and per-model execution times."""
    work = OUT / f"build_{label}"
    work.mkdir(parents=True, exist_ok=True)
    db = work / "warehouse.duckdb"
    db.unlink(missing_ok=True)
    dbt_vars = {"raw_path": str(raw), "raw_format": "parquet", "training_cutoffs": training_cutoffs}
    args = ["run", "--exclude", "tag:scoring"]  # features only
    if select:
        args += ["--select", select]
    started = time.perf_counter()
    times = build_times(args, work, dbt_vars, {"CLV_DUCKDB_PATH": str(db)})
    wall = time.perf_counter() - started
    per_model = {model: round(seconds, 2) for model, seconds in times.items()}
    return {
        "wall_s": round(wall, 1),
        "models_s": round(sum(per_model.values()), 1),
        "per_model_s": per_model,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--training-cutoffs", type=int, default=3)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "runs": []}
    for n in args.customers:
        raw = ensure_shop(n)
        rows = {t.stem: pq.read_metadata(t).num_rows for t in sorted(raw.glob("*.parquet"))}
        scoring = build(raw, f"{n}_scoring", "+customer_features", [])
        full = build(raw, f"{n}_full", None, {"step_days": 91, "count": args.training_cutoffs})
        report["runs"].append(
            {"customers": n, "raw_rows": rows, "scoring_path": scoring, "all_models": full}
        )
        print(
            f"{n:>9} customers: scoring path {scoring['wall_s']} s, all models {full['wall_s']} s",
            flush=True,
        )
    (OUT / "feature_build.json").write_text(json.dumps(report, indent=2))
    print(
        "\n| model | "
        + " | ".join(f"{r['customers']:,} scoring / all" for r in report["runs"])
        + " |"
    )
    print("|---|" + "---|" * len(report["runs"]))
    models = list(report["runs"][-1]["all_models"]["per_model_s"])
    for model in models:
        cells = [
            f"{r['scoring_path']['per_model_s'].get(model, '–')} / "
            f"{r['all_models']['per_model_s'].get(model, '–')}"
            for r in report["runs"]
        ]
        print(f"| {model} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
