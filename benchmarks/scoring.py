"""Scoring throughput: the scorer in Python vs the UDF in DuckDB vs `dbt build`, and an
incremental run with 1% of customers changed.

    python -m benchmarks.scoring [--customers 3000] [--model artifacts]

Builds a synthetic shop of N customers (features only), then scores the same customers
(a) with Scorer.score() on Arrow batches of 2,048 rows, (b) with clv_score() in a DuckDB query,
(c) with `dbt run -s text_embeddings customer_scores --full-refresh`, each with a fresh
process-level cache, and finally (d) rescores after changing the behaviour text of 1% of the
customers. Uses the model in --model (default: artifacts/current, i.e. what `make train` wrote).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import duckdb

from benchmarks.dbt import ROOT, build_times
from python_udfs import settings
from python_udfs.scoring import Scorer
from python_udfs.udfs import register
from shopdata.synthetic import generate_shop, write_shop

OUT = ROOT / "benchmarks" / "out" / "scoring"


def dbt(args: list[str], db: Path, raw: Path, model: Path) -> dict[str, float]:
    """Run dbt on the benchmark shop; return each model's execution time."""
    env = {
        "CLV_DUCKDB_PATH": str(db),
        "CLV_MODEL_PATH": str(model),
        "CLV_EXPORT_PATH": str(OUT / "exports"),
    }
    dbt_vars = {"raw_path": str(raw), "raw_format": "parquet", "training_cutoffs": []}
    return build_times(args, OUT, dbt_vars, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--model", type=Path, default=settings.load().model_path)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    raw, db = OUT / f"shop_{args.customers}", OUT / "warehouse.duckdb"
    write_shop(generate_shop(args.customers, seed=1, dirty_fraction=0.0), raw)
    db.unlink(missing_ok=True)
    dbt(["run", "-s", "+customer_features"], db, raw, args.model)
    with duckdb.connect(str(db), read_only=True) as con:
        table = con.sql("select * from customer_features").to_arrow_table()
    n = table.num_rows
    unique = len(set(table.column("behaviour_text").to_pylist()))
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "customers": n,
        "unique_texts": unique,
    }

    started = time.perf_counter()  # every variant includes loading the model
    scorer = Scorer(args.model, device="cpu")
    for batch in table.to_batches(max_chunksize=2048):
        scorer.score(batch)
    report["a_python_s"] = time.perf_counter() - started

    con = duckdb.connect(str(db), read_only=True)
    register(con, args.model, device="cpu")
    struct = "struct_pack(" + ", ".join(f"{f} := {f}" for f in scorer.feature_names) + ")"
    started = time.perf_counter()
    con.execute(
        f"create temp table s as select customer_id, "
        f"clv_score(behaviour_text, {struct}) as s from customer_features"
    )
    report["b_duckdb_udf_s"] = time.perf_counter() - started
    con.close()

    # text_embeddings (the encoder) + customer_scores (the head): the two parts of scoring
    times = dbt(
        ["run", "-s", "text_embeddings", "customer_scores", "--full-refresh"], db, raw, args.model
    )
    report["c_dbt_customer_scores_s"] = times["text_embeddings"] + times["customer_scores"]
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update customer_features set behaviour_text = behaviour_text || ' changed.' "
            "where hash(customer_id) % 100 = 0"
        )
        changed = con.execute(
            "select count(*) from customer_features where behaviour_text like '% changed.'"
        ).fetchone()[0]
    report["changed_customers"] = changed
    times = dbt(["run", "-s", "text_embeddings", "customer_scores"], db, raw, args.model)
    report["d_incremental_s"] = times["text_embeddings"] + times["customer_scores"]
    a, b, c = report["a_python_s"], report["b_duckdb_udf_s"], report["c_dbt_customer_scores_s"]
    report["texts_per_s_python"] = unique / a
    report["throughput_ratio_udf_vs_python"] = a / b
    report["throughput_ratio_dbt_vs_python"] = a / c
    report["incremental_share_of_full"] = report["d_incremental_s"] / c
    print(
        json.dumps(
            {k: round(v, 3) if isinstance(v, float) else v for k, v in report.items()}, indent=2
        )
    )
    (OUT / "scoring.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
