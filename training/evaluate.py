"""Metrics of the model and the classical baselines on the same held-out rows, and the report."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from tqdm.auto import tqdm

from training import baselines
from training.data import Examples
from training.metrics import churn_report, clv_report, normalized_gini

logger = logging.getLogger(__name__)

# Direction of each metric: +1 when higher is better, -1 when lower is better.
CLV_METRICS = {
    "normalized_gini": 1, "spearman": 1, "top_decile_capture": 1, "mae": -1, "rmse": -1,
    "decile_mape": -1, "abs_total_revenue_error": -1,
}  # fmt: skip
CHURN_METRICS = {"roc_auc": 1, "pr_auc": 1, "brier": -1, "ece": -1}
MODEL = "transformer"  # the fused (text + numeric) model that is shipped
ABLATIONS = ("numeric_only", "text_only")
BASELINES = ("gbm", "bgnbd_gamma_gamma")
# Metrics with paired bootstrap intervals of the difference between two predictors.
BOOTSTRAP_METRICS = {"normalized_gini": "clv", "spearman": "clv", "roc_auc": "churn"}
CONFIDENCE = 0.95


def evaluate(revenue, churned, predicted_clv, churn_probability) -> dict[str, float]:
    """CLV and churn metrics of one set of predictions."""
    clv = clv_report(revenue, predicted_clv)
    clv["abs_total_revenue_error"] = abs(clv["total_revenue_error"])
    return {**clv, **churn_report(churned, churn_probability)}


def baseline_predictions(
    train: Examples, test: Examples, horizon_days: int, churn_horizon_days: int, seed: int
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict]:
    """(predicted_clv, churn_probability) on `test` of BG/NBD + Gamma-Gamma and of the GBM,
    both fitted on `train` only (BG/NBD in weeks; the GBM on the declared numeric features,
    tuned on whole training customers), and what was fitted."""

    def summary(ex: Examples):
        x = ex.column("repeat_purchase_days")
        t_x = ex.column("purchase_span_days") / 7.0
        big_t = ex.column("tenure_days") / 7.0
        return x, t_x, big_t, ex.column("repeat_purchase_value_mean")

    x, t_x, big_t, value = summary(train)
    bgnbd = baselines.fit_bgnbd(x, t_x, big_t)
    repeat = x > 0
    gamma_gamma = baselines.fit_gamma_gamma(x[repeat], value[repeat])
    x, t_x, big_t, value = summary(test)
    bgnbd_clv = baselines.bgnbd_gg_clv(
        bgnbd, gamma_gamma, horizon_days / 7.0, x, t_x, big_t, np.nan_to_num(value)
    )
    bgnbd_churn = baselines.bgnbd_p_no_purchase(bgnbd, churn_horizon_days / 7.0, x, t_x, big_t)
    usable = np.isfinite(train.numeric).any(axis=0)  # all-missing columns break binning
    gbm = baselines.fit_gbm(
        train.numeric[:, usable],
        train.revenue,
        train.churned,
        seed=seed,
        groups=train.customer_id,
    )
    logger.info("BG/NBD %s, Gamma-Gamma %s", bgnbd, gamma_gamma)
    info = {
        "gbm": gbm.selection,
        "bgnbd_gamma_gamma": {"bgnbd": bgnbd._asdict(), "gamma_gamma": gamma_gamma._asdict()},
    }
    return {
        "bgnbd_gamma_gamma": (bgnbd_clv, bgnbd_churn),
        "gbm": gbm.predict(test.numeric[:, usable]),
    }, info


# What each sequence variant is compared with, beyond numeric-only and the baselines: the
# text's and the pretraining's own contributions.
SEQUENCE_ABLATIONS = (
    ("sequence_text", "sequence"),
    ("sequence_pretrained", "sequence"),
    ("sequence_text_pretrained", "sequence_text"),
    ("sequence_text_pretrained", "sequence_pretrained"),
)


def comparison_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(a, b) pairs whose difference a - b gets an interval: every model variant against
    every baseline, the fused model against each ablation (what text / numbers add), every
    sequence variant against numeric-only, and the text and pretraining ablations of the
    sequence variants."""
    variants = [n for n in names if n not in BASELINES]
    pairs = [(v, b) for v in variants for b in BASELINES if b in names]
    pairs += [(MODEL, a) for a in ABLATIONS if a in names and MODEL in names]
    pairs += [(v, "numeric_only") for v in variants if v.startswith("sequence")]
    pairs += [(a, b) for a, b in SEQUENCE_ABLATIONS if a in names and b in names]
    if "numeric_only" not in names:
        pairs = [p for p in pairs if "numeric_only" not in p]
    return pairs


def bootstrap_scores(
    revenue: np.ndarray, churned: np.ndarray, predictors: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """[P, 3] normalised Gini, Spearman and ROC-AUC of each (clv, churn) predictor on one
    resample. Spearman and AUC are computed from ranks shared across predictors (the same
    values as scipy's spearmanr and sklearn's roc_auc_score, tested; ~10x faster here)."""
    out = np.full((len(predictors), len(BOOTSTRAP_METRICS)), np.nan)
    revenue_rank = rankdata(revenue)
    positive = churned == 1
    n_pos = int(positive.sum())
    n_neg = churned.size - n_pos
    for i, (clv, churn) in enumerate(predictors):
        out[i, 0] = normalized_gini(revenue, clv)
        clv_rank = rankdata(clv)
        if np.ptp(revenue_rank) > 0 and np.ptp(clv_rank) > 0:
            out[i, 1] = np.corrcoef(revenue_rank, clv_rank)[0, 1]
        if n_pos and n_neg:
            u = rankdata(churn)[positive].sum() - n_pos * (n_pos + 1) / 2.0
            out[i, 2] = u / (n_pos * n_neg)
    return out


def ablation_intervals(
    rows: Examples,
    predictions: dict[str, dict[str, np.ndarray]],
    baseline_preds: dict[str, tuple[np.ndarray, np.ndarray]],
    samples: int,
    seed: int,
    progress: bool = False,
) -> list[dict]:
    """Paired bootstrap (resampling the same customers for both predictors) 95% intervals of
    the difference a - b in normalised Gini, Spearman and churn ROC-AUC, for every pair of
    comparison_pairs. Returns one dict per (pair, metric)."""
    preds = {name: (p["predicted_clv"], p["churn_probability"]) for name, p in predictions.items()}
    preds.update(baseline_preds)
    pairs = comparison_pairs(list(preds))
    if not pairs or samples < 1:
        return []
    names = sorted({n for pair in pairs for n in pair})
    metric_fns = list(BOOTSTRAP_METRICS)

    def scores(index: np.ndarray) -> np.ndarray:
        return bootstrap_scores(
            rows.revenue[index],
            rows.churned[index],
            [(preds[name][0][index], preds[name][1][index]) for name in names],
        )

    n = len(rows)
    point = scores(np.arange(n))
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [
            scores(rng.integers(0, n, n))
            for _ in tqdm(range(samples), desc="bootstrap", disable=not progress)
        ]
    )
    alpha = (1 - CONFIDENCE) / 2
    results = []
    for a, b in pairs:
        ia, ib = names.index(a), names.index(b)
        for j, metric in enumerate(metric_fns):
            diff = draws[:, ia, j] - draws[:, ib, j]
            diff = diff[np.isfinite(diff)]
            lo, hi = np.quantile(diff, [alpha, 1 - alpha]) if diff.size else (np.nan, np.nan)
            results.append(
                {
                    "a": a,
                    "b": b,
                    "metric": metric,
                    "a_value": float(point[ia, j]),
                    "b_value": float(point[ib, j]),
                    "difference": float(point[ia, j] - point[ib, j]),
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                    "samples": samples,
                }
            )
    return results


def describe_difference(row: dict) -> str:
    """'+0.012 (95% CI +0.004 to +0.020, better)' in plain words."""
    if row["ci_low"] > 0:
        word = "better"
    elif row["ci_high"] < 0:
        word = "worse"
    else:
        word = "no significant difference"
    return (
        f"{row['difference']:+.4f} (95% CI {row['ci_low']:+.4f} to {row['ci_high']:+.4f}, {word})"
    )


def contribution(comparisons: list[dict], a: str, b: str, what: str) -> str | None:
    """Plain words: does `what` (the difference between variant a and b) help, by how much."""
    rows = [r for r in comparisons if r["a"] == a and r["b"] == b]
    if not rows:
        return None
    helps = [r["metric"] for r in rows if r["ci_low"] > 0]
    hurts = [r["metric"] for r in rows if r["ci_high"] < 0]
    details = "; ".join(f"{r['metric']} {describe_difference(r)}" for r in rows)
    if helps and not hurts:
        words = f"{what} helps: it improves " + ", ".join(helps)
    elif hurts and not helps:
        words = f"{what} hurts: {a} is worse than {b} on " + ", ".join(hurts)
    elif helps and hurts:
        words = f"{what} has mixed effects"
    else:
        words = (
            f"{what} does not measurably help: every interval of the difference between "
            f"{a} and {b} includes zero"
        )
    return f"{words}. {a} minus {b}: {details}."


# (a, b, what their difference measures), in the order the report states them.
CONTRIBUTIONS = (
    (MODEL, "numeric_only", "The behaviour text"),
    ("sequence", "numeric_only", "The event sequence"),
    ("sequence_pretrained", "numeric_only", "The pretrained event sequence"),
    ("sequence_text", "sequence", "The event texts"),
    ("sequence_pretrained", "sequence", "The masked-event pretraining"),
    ("sequence_text_pretrained", "sequence_text", "The masked-event pretraining (with texts)"),
)


def text_contribution(comparisons: list[dict]) -> str:
    """Plain words: what the behaviour text, the event sequence, its texts and the
    pretraining each add (paired intervals of the variants that were trained)."""
    lines = [contribution(comparisons, a, b, what) for a, b, what in CONTRIBUTIONS]
    found = [line for line in lines if line]
    if not found:
        return "The text contribution was not measured (no numeric-only variant)."
    return "\n".join(found)


def winners(metrics: dict[str, dict[str, float]]) -> dict[str, str]:
    """The best model per metric."""
    best = {}
    for name, direction in {**CLV_METRICS, **CHURN_METRICS}.items():
        scored = {m: v[name] for m, v in metrics.items() if np.isfinite(v.get(name, np.nan))}
        if scored:
            best[name] = max(scored, key=lambda m: direction * scored[m])
    return best


def verdict(
    metrics: dict[str, dict[str, float]],
    comparisons: list[dict] | None = None,
    shipped: str = MODEL,
) -> str:
    """One plain sentence per baseline: on which metrics the shipped model wins and loses, and
    what the text adds."""
    lines = []
    model = shipped if shipped in metrics else MODEL
    for other in (m for m in metrics if m in BASELINES):
        won: list[str] = []
        lost: list[str] = []
        for name, direction in {**CLV_METRICS, **CHURN_METRICS}.items():
            a, b = metrics[model].get(name, np.nan), metrics[other].get(name, np.nan)
            (won if direction * (a - b) > 0 else lost).append(name)
        lines.append(
            f"vs {other}: the shipped {model} model wins on {len(won)}/{len(won) + len(lost)} "
            "metrics" + (f"; it loses on {', '.join(lost)}" if lost else " (all of them)")
        )
    if comparisons:
        lines.append(text_contribution(comparisons))
    return "\n".join(lines)


def _markdown_table(metrics: dict[str, dict[str, float]]) -> list[str]:
    models = list(metrics)
    rows = [f"| metric | {' | '.join(models)} | best |", "|---|" + "---|" * (len(models) + 1)]
    best = winners(metrics)
    for name in {**CLV_METRICS, **CHURN_METRICS}:
        cells = " | ".join(f"{metrics[m].get(name, float('nan')):.4f}" for m in models)
        rows.append(f"| {name} | {cells} | {best.get(name, '-')} |")
    return rows


def _comparison_table(comparisons: list[dict]) -> list[str]:
    rows = [
        "| a | b | metric | a | b | a - b | 95% CI | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in comparisons:
        word = describe_difference(r).split(", ")[-1].rstrip(")")
        rows.append(
            f"| {r['a']} | {r['b']} | {r['metric']} | {r['a_value']:.4f} | {r['b_value']:.4f} "
            f"| {r['difference']:+.4f} | {r['ci_low']:+.4f} .. {r['ci_high']:+.4f} | {word} |"
        )
    return rows


def _selection_lines(selection: dict) -> list[str]:
    lines = []
    for name, sel in selection.items():
        if not sel:
            continue
        if "candidates" in sel and "selected" in sel:
            lines.append(
                f"- {name}: selected {sel['selected']} ({sel['epochs']} epochs) of "
                + ", ".join(
                    f"{c['name']} (val loss {c['validation_loss']:.4f}, nGini "
                    f"{c['validation_normalized_gini']:.4f}, AUC {c['validation_roc_auc']:.4f})"
                    for c in sel["candidates"]
                )
            )
        elif "revenue" in sel:
            lines.append(f"- {name}: revenue {sel['revenue']}, churn {sel['churn']}")
    return lines


def write_report(
    directory: Path,
    metrics: dict[str, dict[str, float]],
    context: dict,
    test: Examples,
    predictions: dict[str, dict[str, np.ndarray]],
    baseline_preds: dict[str, tuple[np.ndarray, np.ndarray]],
    comparisons: list[dict] | None = None,
    selection: dict | None = None,
) -> None:
    """report.json, report.md and predictions.csv (one row per reported example: the shipped
    model's columns, then every variant's and baseline's predictions, then the actuals)."""
    comparisons = comparisons or []
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(
        json.dumps(
            {
                "context": context,
                "metrics": metrics,
                "best": winners(metrics),
                "comparisons": comparisons,
                "text_contribution": text_contribution(comparisons),
                "selection": selection or {},
                "verdict": verdict(metrics, comparisons, context.get("shipped", MODEL)),
            },
            indent=2,
            default=float,
        )
        + "\n"
    )
    context_lines = "\n".join(f"- {k}: {v}" for k, v in context.items())
    sections = [
        f"# Evaluation on {context.get('report_rows', 'held-out rows')}",
        context_lines,
        "## Metrics",
        "\n".join(_markdown_table(metrics)),
    ]
    if comparisons:
        sections += [
            f"## Paired bootstrap ({comparisons[0]['samples']} samples, same customers): "
            "differences a - b",
            "\n".join(_comparison_table(comparisons)),
        ]
    sections += ["## Verdict", verdict(metrics, comparisons, context.get("shipped", MODEL))]
    if selection:
        sections += ["## Selection", "\n".join(_selection_lines(selection))]
    (directory / "report.md").write_text("\n\n".join(sections) + "\n")
    write_predictions(
        directory / "predictions.csv",
        test,
        predictions,
        baseline_preds,
        context.get("shipped", MODEL),
    )


def write_predictions(
    path: Path,
    rows: Examples,
    predictions: dict[str, dict[str, np.ndarray]],
    baseline_preds: dict[str, tuple[np.ndarray, np.ndarray]],
    shipped_name: str = MODEL,
) -> None:
    """customer_id, cutoff_date, the shipped model's outputs (`shipped_name`: the fused
    transformer, or numeric_only when the text gate chose it), <variant>_clv / <variant>_churn
    for every other variant and baseline, actual_future_revenue, actual_churned."""
    shipped = predictions[shipped_name]
    others = {
        name: (p["predicted_clv"], p["churn_probability"])
        for name, p in predictions.items()
        if name != shipped_name
    }
    others.update(baseline_preds)
    header = [
        "customer_id",
        "cutoff_date",
        *shipped,
        *(f"{name}_{kind}" for name in others for kind in ("clv", "churn")),
        "actual_future_revenue",
        "actual_churned",
    ]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(len(rows)):
            writer.writerow(
                [
                    rows.customer_id[i],
                    rows.cutoff_date[i],
                    *(f"{shipped[k][i]:.6g}" for k in shipped),
                    *(f"{arr[i]:.6g}" for pair in others.values() for arr in pair),
                    f"{rows.revenue[i]:.2f}",
                    int(rows.churned[i]),
                ]
            )
