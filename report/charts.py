"""The report's charts, drawn with matplotlib (Agg, no screen) and returned as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from report.data import Rows

FIGSIZE = (6.4, 4.0)
DPI = 110
MODEL_COLOUR = "#1f77b4"
ACTUAL_COLOUR = "#ff7f0e"
REFERENCE_COLOUR = "#7f7f7f"
VALUE_TIERS = ("high", "medium", "low")
RISK_BANDS = ("low", "medium", "high")


@contextmanager
def _figure(title: str, figsize: tuple[float, float] = FIGSIZE) -> Iterator[tuple[Figure, object]]:
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    ax.set_title(title)
    try:
        yield fig, ax
    finally:
        plt.close(fig)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def gain_curve(gain: Rows) -> bytes:
    """Cumulative share of actual revenue captured by customers ranked by predicted CLV."""
    with _figure("Cumulative gain at the backtest cutoff") as (fig, ax):
        share = [0.0] + [row["customer_share"] for row in gain]
        ax.plot(share, [0.0] + [row["model_revenue_share"] or 0 for row in gain],
                color=MODEL_COLOUR, label="ranked by predicted CLV")  # fmt: skip
        ax.plot(share, [0.0] + [row["perfect_revenue_share"] or 0 for row in gain],
                color=ACTUAL_COLOUR, linestyle="--", label="perfect ranking")  # fmt: skip
        ax.plot([0, 1], [0, 1], color=REFERENCE_COLOUR, linestyle=":", label="random")
        ax.set_xlabel("share of customers (highest predicted first)")
        ax.set_ylabel("share of actual revenue after the cutoff")
        ax.legend(loc="lower right")
        return _png(fig)


def decile_calibration(calibration: Rows) -> bytes:
    """Mean predicted vs actual revenue per decile of predicted CLV."""
    with _figure("Calibration by decile of predicted CLV") as (fig, ax):
        deciles = np.array([row["decile"] for row in calibration])
        width = 0.4
        ax.bar(deciles - width / 2, [row["mean_predicted_clv"] for row in calibration], width,
               color=MODEL_COLOUR, label="mean predicted")  # fmt: skip
        ax.bar(deciles + width / 2, [row["mean_actual_revenue"] for row in calibration], width,
               color=ACTUAL_COLOUR, label="mean actual")  # fmt: skip
        ax.set_xticks(deciles)
        ax.set_xlabel("decile (1 = highest predicted CLV)")
        ax.set_ylabel("revenue per customer in the horizon")
        ax.legend()
        return _png(fig)


def churn_reliability(reliability: Rows) -> bytes:
    """Actual churn rate vs mean predicted churn probability per probability bin."""
    with _figure("Churn reliability at the backtest cutoff") as (fig, ax):
        predicted = [row["mean_churn_probability"] for row in reliability]
        actual = [row["actual_churn_rate"] for row in reliability]
        sizes = np.array([row["customers"] for row in reliability], dtype=float)
        ax.plot([0, 1], [0, 1], color=REFERENCE_COLOUR, linestyle=":", label="perfectly calibrated")
        ax.plot(predicted, actual, color=MODEL_COLOUR, marker="o", label="model")
        ax.scatter(predicted, actual, s=20 + 200 * sizes / max(sizes.max(), 1),
                   color=MODEL_COLOUR, alpha=0.3)  # fmt: skip
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted churn probability (bin mean)")
        ax.set_ylabel("actual churn rate")
        ax.legend(loc="upper left")
        return _png(fig)


def segment_matrix(segments: Rows) -> bytes:
    """Value tier x churn-risk band: customers and predicted value in each cell."""
    counts = np.zeros((len(VALUE_TIERS), len(RISK_BANDS)))
    value = np.zeros_like(counts)
    for row in segments:
        i, j = VALUE_TIERS.index(row["value_tier"]), RISK_BANDS.index(row["churn_risk_band"])
        counts[i, j] = row["customers"]
        value[i, j] = row["total_predicted_clv"] or 0
    with _figure("Segments: value tier x churn risk") as (fig, ax):
        image = ax.imshow(value, cmap="Blues")
        for i in range(len(VALUE_TIERS)):
            for j in range(len(RISK_BANDS)):
                dark = value[i, j] > value.max() / 2
                ax.text(j, i, f"{int(counts[i, j]):,} customers\n{value[i, j]:,.0f} predicted",
                        ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
        ax.set_xticks(range(len(RISK_BANDS)), [f"{band} risk" for band in RISK_BANDS])
        ax.set_yticks(range(len(VALUE_TIERS)), [f"{tier} value" for tier in VALUE_TIERS])
        fig.colorbar(image, ax=ax, label="total predicted CLV")
        return _png(fig)


def spend_tiers(tiers: Rows) -> bytes:
    """Customers and discounted lifetime value per spend tier."""
    with _figure("Spend tiers: purchase power and lifetime value") as (fig, ax):
        names = [row["spend_tier_name"] for row in tiers]
        ax.bar(names, [row["total_lifetime_value"] for row in tiers], color=MODEL_COLOUR)
        ax.set_ylabel("total discounted lifetime value")
        ax.set_xlabel("spend tier (quintile of expected spend when active)")
        right = ax.twinx()
        right.plot(names, [row["mean_spend_if_active"] for row in tiers], color=ACTUAL_COLOUR,
                   marker="o")  # fmt: skip
        right.set_ylabel("mean expected spend when active", color=ACTUAL_COLOUR)
        return _png(fig)


def cohort_heatmap(cohorts: Rows) -> bytes:
    """Share of each first-order cohort still buying, by month since the first order."""
    months = sorted({row["months_since_first_order"] for row in cohorts})
    labels = sorted({str(row["cohort_month"])[:7] for row in cohorts})
    grid = np.full((len(labels), len(months)), np.nan)
    for row in cohorts:
        i = labels.index(str(row["cohort_month"])[:7])
        grid[i, months.index(row["months_since_first_order"])] = row["retention_rate"]
    with _figure("Cohort retention", figsize=(7.2, 0.25 * len(labels) + 2.0)) as (fig, ax):
        # Month 0 is 100% by definition: scale the colours on the later months.
        later = grid[:, 1:] if grid.shape[1] > 1 else grid
        top = np.nanmax(later) if np.isfinite(later).any() else 1.0
        image = ax.imshow(grid, cmap="viridis", aspect="auto", vmin=0, vmax=top or 1.0)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xticks(range(len(months)), months, fontsize=7)
        ax.set_xlabel("months since the first order")
        ax.set_ylabel("cohort (month of first order)")
        fig.colorbar(image, ax=ax, label="share of the cohort buying")
        return _png(fig)


def score_distributions(histograms: Rows) -> bytes:
    """Distribution of each score at the latest run, over the previous run when there is one."""
    names = sorted({row["score_name"] for row in histograms})
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(7.2, 3.2), layout="constrained")
    axes = np.atleast_1d(axes)
    try:
        fig.suptitle("Score distributions (latest run vs previous)")
        for ax, name in zip(axes, names, strict=False):
            rows = [row for row in histograms if row["score_name"] == name]
            dates = sorted({row["as_of_date"] for row in rows}, reverse=True)
            for date, colour in zip(dates, (MODEL_COLOUR, REFERENCE_COLOUR), strict=False):
                run = [row for row in rows if row["as_of_date"] == date]
                ax.plot([row["score_bin"] for row in run], [row["customer_share"] for row in run],
                        color=colour, marker=".", label=str(date))  # fmt: skip
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("bin")
            ax.set_ylabel("share of customers")
            ax.legend(fontsize=7)
        return _png(fig)
    finally:
        plt.close(fig)
