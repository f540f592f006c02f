"""The report page: one HTML file with the charts inlined as data URIs and the numbers behind
them in tables (every value escaped; nothing is fetched when the page opens)."""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Callable, Sequence
from typing import Any

from report import charts
from report.data import ReportData, Rows

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; }
section { margin: 2.5rem 0; }
.meta { color: #555; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6rem 1rem; min-width: 10rem; }
.card b { display: block; font-size: 1.3rem; }
img.chart { max-width: 100%; border: 1px solid #eee; }
td { vertical-align: top; }
table { border-collapse: collapse; margin-top: 0.8rem; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
p.note { color: #555; font-size: 0.9rem; max-width: 60rem; }
"""

Column = tuple[str, str, Callable[[Any], str]]


def money(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}"


def share(value: Any) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def number(value: Any) -> str:
    return "" if value is None else f"{value:,}"


def probability(value: Any) -> str:
    return "" if value is None else f"{value:.3f}"


def text(value: Any) -> str:
    return "" if value is None else str(value)


def table(table_id: str, rows: Rows, columns: Sequence[Column]) -> str:
    """An HTML table of `rows`; columns are (key, heading, formatter)."""
    head = "".join(f"<th>{html.escape(heading)}</th>" for _, heading, _ in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td data-column="{html.escape(key)}">{html.escape(fmt(row.get(key)))}</td>'
            for key, _, fmt in columns
        )
        + "</tr>"
        for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def image(chart_id: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="chart" id="{chart_id}" alt="{html.escape(alt)}" '
        f'src="data:image/png;base64,{data}">'
    )


def section(title: str, note: str, *parts: str) -> str:
    return (
        f'<section><h2>{html.escape(title)}</h2><p class="note">{html.escape(note)}</p>'
        + "".join(parts)
        + "</section>"
    )


def _overview(data: ReportData) -> str:
    o = data.overview
    cards = [
        ("customers scored", number(o["customers"])),
        ("predicted revenue (horizon)", money(o["total_predicted_clv"])),
        ("revenue at risk", money(o["revenue_at_risk"])),
        ("discounted lifetime value", money(o["total_lifetime_value"])),
        ("mean churn probability", probability(o["mean_churn_probability"])),
    ]
    return (
        '<div class="cards" id="overview">'
        + "".join(
            f'<div class="card">{html.escape(label)}<b>{html.escape(value)}</b></div>'
            for label, value in cards
        )
        + "</div>"
    )


def _at_risk_rows(data: ReportData) -> Rows:
    return [
        {**row, "reasons": "; ".join(data.reasons.get(row["customer_id"], []))}
        for row in data.at_risk
    ]


def _gain_note(data: ReportData) -> str:
    top = [row for row in data.gain if row["customer_share"] <= 0.1]
    captured = top[-1]["model_revenue_share"] if top else None
    lead = (
        f"The top 10% of customers by predicted CLV made {share(captured)} of the revenue after "
        "the cutoff. "
        if captured is not None
        else ""
    )
    return (
        lead + f"Predictions made at the backtest cutoff {data.overview['backtest_cutoff']} with "
        "data before it, against what the customers spent after it."
    )


AT_RISK_COLUMNS: list[Column] = [
    ("customer_id", "customer", text),
    ("segment", "segment", text),
    ("predicted_clv", "predicted CLV", money),
    ("churn_probability", "churn probability", probability),
    ("value_at_risk", "value at risk", money),
    ("lifetime_value", "lifetime value", money),
    ("recommended_action", "action", text),
    ("reasons", "why", text),
]
SEGMENT_COLUMNS: list[Column] = [
    ("segment", "segment", text),
    ("recommended_action", "action", text),
    ("customers", "customers", number),
    ("share_of_customers", "share of customers", share),
    ("total_predicted_clv", "predicted CLV", money),
    ("share_of_predicted_clv", "share of predicted CLV", share),
    ("mean_churn_probability", "mean churn probability", probability),
    ("total_lifetime_value", "lifetime value", money),
]
CALIBRATION_COLUMNS: list[Column] = [
    ("decile", "decile", number),
    ("customers", "customers", number),
    ("mean_predicted_clv", "mean predicted", money),
    ("mean_actual_revenue", "mean actual", money),
    ("mean_churn_probability", "predicted churn", probability),
    ("actual_churn_rate", "actual churn", probability),
]
SPEND_TIER_COLUMNS: list[Column] = [
    ("spend_tier_name", "tier", text),
    ("customers", "customers", number),
    ("mean_spend_if_active", "spend when active", money),
    ("mean_spend_per_order", "spend per order", money),
    ("total_predicted_clv", "predicted CLV", money),
    ("total_lifetime_value", "lifetime value", money),
]
DRIFT_COLUMNS: list[Column] = [
    ("score_name", "score", text),
    ("psi", "PSI", probability),
    ("current_as_of_date", "run", text),
    ("previous_as_of_date", "previous run", text),
]


CAMPAIGN_COLUMNS: list[Column] = [
    ("campaign_id", "campaign", text),
    ("segment", "segment", text),
    ("campaign_action", "action", text),
    ("status", "status", text),
    ("days_observed", "days observed", number),
    ("treatment_customers", "treated", number),
    ("holdout_customers", "held out", number),
    ("retention", "retention, treated vs held out", text),
    ("retention_difference", "retention difference [95% CI]", text),
    ("revenue_difference", "revenue per customer difference [95% CI]", text),
]


def _interval(value: Any, low: Any, high: Any, fmt: Callable[[Any], str]) -> str:
    if value is None:
        return ""
    bounds = f" [{fmt(low)}, {fmt(high)}]" if low is not None and high is not None else ""
    return fmt(value) + bounds


def _campaign_rows(data: ReportData) -> Rows:
    return [
        {
            **row,
            "retention": (
                f"{share(row['treatment_retention_rate'])} vs "
                f"{share(row['holdout_retention_rate'])}"
                if row["treatment_retention_rate"] is not None
                else ""
            ),
            "retention_difference": _interval(
                row["retention_difference"],
                row["retention_difference_ci_low"],
                row["retention_difference_ci_high"],
                share,
            ),
            "revenue_difference": _interval(
                row["revenue_difference"],
                row["revenue_difference_ci_low"],
                row["revenue_difference_ci_high"],
                money,
            ),
        }
        for row in data.interventions
    ]


def render(data: ReportData) -> str:
    """The whole page."""
    o = data.overview
    sections = [
        section(
            "Who to look at first: high churn risk, most value at risk",
            "Value at risk = predicted CLV x churn probability. Reasons are the top drivers of "
            "the churn probability (customer_score_reasons).",
            table("at-risk", _at_risk_rows(data), AT_RISK_COLUMNS),
        ),
        section(
            "Segments",
            "Value tier (percent rank of predicted CLV) x churn-risk band, from segment_summary.",
            image("chart-segments", charts.segment_matrix(data.segments), "segment matrix"),
            table("segment-summary", data.segments, SEGMENT_COLUMNS),
        ),
        section(
            "Did the ranking work? Cumulative gain",
            _gain_note(data),
            image("chart-gain", charts.gain_curve(data.gain), "cumulative gain curve"),
        ),
        section(
            "Calibration by decile",
            "Mean predicted and actual revenue per decile of predicted CLV at the backtest "
            "cutoff (clv_calibration).",
            image(
                "chart-calibration",
                charts.decile_calibration(data.calibration),
                "decile calibration",
            ),
            table("calibration", data.calibration, CALIBRATION_COLUMNS),
        ),
        section(
            "Churn reliability",
            "Customers binned by predicted churn probability: a calibrated model follows the "
            "diagonal. Marker size = customers in the bin.",
            image(
                "chart-reliability",
                charts.churn_reliability(data.reliability),
                "churn reliability diagram",
            ),
        ),
        section(
            "Spend tiers and lifetime value",
            "Quintiles of the expected spend when active (purchase power), with the discounted "
            "lifetime value (vars discount_rate_monthly, lifetime_months, gross_margin).",
            image("chart-spend-tiers", charts.spend_tiers(data.spend_tiers), "spend tiers"),
            table("spend-tiers", data.spend_tiers, SPEND_TIER_COLUMNS),
        ),
        section(
            "Cohort retention",
            "Share of each first-order cohort buying in each month since its first order "
            "(cohort_retention; the latest cohorts).",
            image("chart-cohorts", charts.cohort_heatmap(data.cohorts), "cohort heatmap"),
        ),
        section(
            "Score distributions and drift",
            "Histograms of the scores at the latest run and the one before "
            "(score_histograms); population stability index between them (score_drift): "
            "above 0.25 the population or the model changed a lot.",
            image(
                "chart-distributions",
                charts.score_distributions(data.histograms),
                "score distributions",
            ),
            table("drift", data.drift, DRIFT_COLUMNS)
            if data.drift
            else '<p class="note">One run so far: drift needs two.</p>',
        ),
    ]
    if data.interventions:
        sections.append(
            section(
                "Campaigns: treatment vs holdout",
                "Retention and revenue per customer of the treated customers minus the held-out "
                "ones, with 95% intervals (intervention_outcomes); an interval that excludes 0 is "
                "evidence of an effect. Status no_data_yet: nothing observed yet.",
                table("interventions", _campaign_rows(data), CAMPAIGN_COLUMNS),
            )
        )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Customer value and churn report</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Customer value and churn report</h1>"
        f'<p class="meta">as of {html.escape(str(o["as_of_date"]))} · model '
        f"{html.escape(str(o['model_version']))} · warehouse {html.escape(data.database)} · "
        f"generated {generated}</p>" + _overview(data) + "".join(sections) + "</body></html>"
    )
