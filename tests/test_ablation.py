"""Paired bootstrap intervals of differences, the plain-words verdict and the report files."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa

from training.data import Examples
from training.evaluate import (
    MODEL,
    ablation_intervals,
    comparison_pairs,
    evaluate,
    text_contribution,
    write_report,
)


def rows(n: int = 400, seed: int = 0) -> Examples:
    rng = np.random.default_rng(seed)
    revenue = np.where(rng.random(n) < 0.4, rng.gamma(2, 30, n), 0.0)
    churned = (revenue == 0).astype(float)
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    return Examples(
        ids,
        np.full(n, np.datetime64("2020-01-01")),
        ["t"] * n,
        np.zeros((n, 1)),
        revenue,
        churned,
        ["f"],
        pa.table({"customer_id": ids}),
    )


def preds(clv: np.ndarray, churn: np.ndarray) -> dict[str, np.ndarray]:
    return {"predicted_clv": clv, "churn_probability": churn}


def test_pairs_cover_variants_vs_baselines_and_fused_vs_ablations():
    names = [MODEL, "numeric_only", "text_only", "gbm", "bgnbd_gamma_gamma"]
    pairs = comparison_pairs(names)
    assert (MODEL, "gbm") in pairs and ("text_only", "bgnbd_gamma_gamma") in pairs
    assert (MODEL, "numeric_only") in pairs and len(pairs) == 8


def test_bootstrap_interval_excludes_zero_for_a_clearly_better_model():
    data = rows()
    rng = np.random.default_rng(1)
    good = preds(data.revenue + rng.normal(0, 5, len(data)), 1 - data.revenue / 200)
    noise = preds(rng.random(len(data)), rng.random(len(data)))
    result = ablation_intervals(data, {MODEL: good, "numeric_only": noise}, {}, samples=200, seed=0)
    by_metric = {r["metric"]: r for r in result}
    assert set(by_metric) == {"normalized_gini", "spearman", "roc_auc"}
    for r in result:
        assert r["ci_low"] > 0 and r["ci_low"] <= r["difference"] <= r["ci_high"]
    assert "The behaviour text helps" in text_contribution(result)


def test_identical_predictors_have_a_zero_difference_and_no_claim():
    data = rows()
    same = preds(data.revenue + 1.0, 1 - data.revenue / 300)
    result = ablation_intervals(data, {MODEL: same, "numeric_only": same}, {}, samples=100, seed=0)
    for r in result:
        assert r["difference"] == 0 and r["ci_low"] == 0 and r["ci_high"] == 0
    assert "does not measurably help" in text_contribution(result)


def test_report_files_carry_intervals_and_every_variant(tmp_path):
    data = rows(120)
    rng = np.random.default_rng(2)
    predictions = {
        MODEL: {**preds(rng.random(120), rng.random(120)), "clv_p90": rng.random(120)},
        "numeric_only": preds(rng.random(120), rng.random(120)),
    }
    baseline = {"gbm": (rng.random(120), rng.random(120))}
    metrics = {
        name: evaluate(data.revenue, data.churned, p["predicted_clv"], p["churn_probability"])
        for name, p in predictions.items()
    }
    metrics["gbm"] = evaluate(data.revenue, data.churned, *baseline["gbm"])
    comparisons = ablation_intervals(data, predictions, baseline, samples=20, seed=0)
    write_report(
        tmp_path, metrics, {"report_rows": "test"}, data, predictions, baseline, comparisons
    )
    with (tmp_path / "predictions.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 120
    assert {"predicted_clv", "clv_p90", "numeric_only_clv", "gbm_churn", "actual_churned"} <= set(
        table[0]
    )
    text = (tmp_path / "report.md").read_text()
    assert "Paired bootstrap (20 samples" in text and "95% CI" in text


def test_bootstrap_scores_equal_sklearn_and_scipy():
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from training.evaluate import bootstrap_scores
    from training.metrics import normalized_gini

    data = rows(300)
    rng = np.random.default_rng(3)
    clv, churn = np.round(rng.random(300), 2), np.round(rng.random(300), 2)  # with ties
    ((gini, rho, auc),) = bootstrap_scores(data.revenue, data.churned, [(clv, churn)])
    assert gini == normalized_gini(data.revenue, clv)
    np.testing.assert_allclose(rho, spearmanr(data.revenue, clv).statistic, rtol=1e-12)
    np.testing.assert_allclose(auc, roc_auc_score(data.churned, churn), rtol=1e-12)
