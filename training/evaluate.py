"""Metrics of the model and the classical baselines on the same held-out rows, and the report."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np

from training import baselines
from training.data import Examples
from training.metrics import churn_report, clv_report

logger = logging.getLogger(__name__)

# Direction of each metric: +1 when higher is better, -1 when lower is better.
CLV_METRICS = {
    "normalized_gini": 1, "spearman": 1, "top_decile_capture": 1, "mae": -1, "rmse": -1,
    "decile_mape": -1, "abs_total_revenue_error": -1,
}  # fmt: skip
CHURN_METRICS = {"roc_auc": 1, "pr_auc": 1, "brier": -1, "ece": -1}
MODEL = "transformer"


def evaluate(revenue, churned, predicted_clv, churn_probability) -> dict[str, float]:
    """CLV and churn metrics of one set of predictions."""
    clv = clv_report(revenue, predicted_clv)
    clv["abs_total_revenue_error"] = abs(clv["total_revenue_error"])
    return {**clv, **churn_report(churned, churn_probability)}


def baseline_predictions(
    train: Examples, test: Examples, horizon_days: int, churn_horizon_days: int, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(predicted_clv, churn_probability) on `test` of BG/NBD + Gamma-Gamma and of the GBM,
    both fitted on `train` only. BG/NBD works in weeks."""

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
    gbm = baselines.fit_gbm(train.numeric[:, usable], train.revenue, train.churned, seed=seed)
    logger.info("BG/NBD %s, Gamma-Gamma %s", bgnbd, gamma_gamma)
    return {
        "bgnbd_gamma_gamma": (bgnbd_clv, bgnbd_churn),
        "gbm": gbm.predict(test.numeric[:, usable]),
    }


def winners(metrics: dict[str, dict[str, float]]) -> dict[str, str]:
    """The best model per metric."""
    best = {}
    for name, direction in {**CLV_METRICS, **CHURN_METRICS}.items():
        scored = {m: v[name] for m, v in metrics.items() if np.isfinite(v.get(name, np.nan))}
        if scored:
            best[name] = max(scored, key=lambda m: direction * scored[m])
    return best


def verdict(metrics: dict[str, dict[str, float]]) -> str:
    """One plain sentence per baseline: on which metrics the model wins and loses."""
    lines = []
    for other in (m for m in metrics if m != MODEL):
        won, lost = [], []
        for name, direction in {**CLV_METRICS, **CHURN_METRICS}.items():
            a, b = metrics[MODEL].get(name, np.nan), metrics[other].get(name, np.nan)
            (won if direction * (a - b) > 0 else lost).append(name)
        lines.append(
            f"vs {other}: the transformer wins on {len(won)}/{len(won) + len(lost)} metrics"
            + (f"; it loses on {', '.join(lost)}" if lost else " (all of them)")
        )
    return "\n".join(lines)


def write_report(
    directory: Path,
    metrics: dict[str, dict[str, float]],
    context: dict,
    test: Examples,
    predictions: dict[str, np.ndarray],
    baseline_preds: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    """report.json, report.md and predictions.csv (one row per held-out example)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(
        json.dumps(
            {
                "context": context,
                "metrics": metrics,
                "best": winners(metrics),
                "verdict": verdict(metrics),
            },
            indent=2,
            default=float,
        )
        + "\n"
    )
    models = list(metrics)
    rows = [f"| metric | {' | '.join(models)} | best |", "|---|" + "---|" * (len(models) + 1)]
    best = winners(metrics)
    for name in {**CLV_METRICS, **CHURN_METRICS}:
        cells = " | ".join(f"{metrics[m].get(name, float('nan')):.4f}" for m in models)
        rows.append(f"| {name} | {cells} | {best.get(name, '-')} |")
    context_lines = "\n".join(f"- {k}: {v}" for k, v in context.items())
    (directory / "report.md").write_text(
        f"# Evaluation on held-out rows\n\n{context_lines}\n\n"
        + "\n".join(rows)
        + f"\n\n{verdict(metrics)}\n"
    )
    with (directory / "predictions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        extra = [f"{name}_{kind}" for name in baseline_preds for kind in ("clv", "churn")]
        writer.writerow(
            [
                "customer_id",
                "cutoff_date",
                *predictions,
                "actual_future_revenue",
                "actual_churned",
                *extra,
            ]
        )
        for i in range(len(test)):
            baseline_cells = [f"{arr[i]:.6g}" for pair in baseline_preds.values() for arr in pair]
            writer.writerow(
                [
                    test.customer_id[i],
                    test.cutoff_date[i],
                    *(f"{predictions[k][i]:.6g}" for k in predictions),
                    f"{test.revenue[i]:.2f}",
                    int(test.churned[i]),
                    *baseline_cells,
                ]
            )
