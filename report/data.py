"""What the report shows, read from the warehouse marts with plain SQL (read-only).

Every section is one query on a mart (or on backtest_scores for the gain curve and the churn
reliability bins, which the marts do not keep), so the numbers on the page are the marts'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

# The marts a scored warehouse has; the report refuses to draw from a partial one.
REQUIRED_TABLES = (
    "customer_segments",
    "segment_summary",
    "clv_calibration",
    "cohort_retention",
    "score_histograms",
    "score_drift",
    "backtest_scores",
    "customer_score_reasons",
)
# Points of the cumulative gain curve (share of customers), and churn reliability bins.
GAIN_POINTS = 200
RELIABILITY_BINS = 10
# Cohort heatmap: the latest cohorts and the first months since the first order.
COHORT_ROWS = 24
COHORT_MONTHS = 24
TOP_AT_RISK = 20
REASONS_PER_CUSTOMER = 3

Rows = list[dict[str, Any]]


class ReportError(RuntimeError):
    """The warehouse cannot give a report (not scored, empty, or not a warehouse)."""


@dataclass
class ReportData:
    """Everything the page shows, as rows of plain Python values."""

    database: str
    overview: dict[str, Any]
    gain: Rows
    calibration: Rows
    reliability: Rows
    segments: Rows
    spend_tiers: Rows
    cohorts: Rows
    histograms: Rows
    drift: Rows
    at_risk: Rows
    reasons: dict[str, list[str]] = field(default_factory=dict)
    interventions: Rows = field(default_factory=list)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> Rows:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()}


OVERVIEW_SQL = """
    select
        max(as_of_date) as as_of_date,
        any_value(model_version) as model_version,
        count(distinct model_version) as model_versions,
        count(*) as customers,
        sum(predicted_clv) as total_predicted_clv,
        sum(lifetime_value) as total_lifetime_value,
        avg(churn_probability) as mean_churn_probability,
        sum(predicted_clv * churn_probability) as revenue_at_risk,
        (select any_value(cutoff_date) from backtest_scores) as backtest_cutoff,
        (select count(*) from backtest_scores) as backtest_customers
    from customer_segments
"""

# Cumulative share of the actual revenue after the backtest cutoff captured by the customers
# ranked by predicted CLV (model) and by the actual revenue itself (perfect ranking).
GAIN_SQL = f"""
    with ranked as (
        select
            row_number() over (order by predicted_clv desc, customer_id) as by_model,
            row_number() over (order by actual_revenue desc, customer_id) as by_actual,
            actual_revenue,
            count(*) over () as n,
            sum(actual_revenue) over () as total
        from backtest_scores
    ),
    model as (
        select by_model as k, n, total,
            sum(actual_revenue) over (order by by_model) as captured
        from ranked
    ),
    perfect as (
        select by_actual as k,
            sum(actual_revenue) over (order by by_actual) as captured
        from ranked
    )
    select
        model.k / model.n as customer_share,
        model.captured / nullif(model.total, 0) as model_revenue_share,
        perfect.captured / nullif(model.total, 0) as perfect_revenue_share
    from model
    inner join perfect on model.k = perfect.k
    where model.k = model.n
        or model.k % greatest(1, model.n // {GAIN_POINTS}) = 0
    order by customer_share
"""

CALIBRATION_SQL = """
    select decile, customers, mean_predicted_clv, mean_actual_revenue,
        mean_churn_probability, actual_churn_rate
    from clv_calibration order by decile
"""

RELIABILITY_SQL = f"""
    select
        least({RELIABILITY_BINS} - 1, floor(churn_probability * {RELIABILITY_BINS}))
            as probability_bin,
        count(*) as customers,
        avg(churn_probability) as mean_churn_probability,
        avg(cast(actual_churned as double)) as actual_churn_rate
    from backtest_scores
    group by probability_bin
    order by probability_bin
"""

SEGMENTS_SQL = """
    select segment, recommended_action, value_tier, churn_risk_band, customers,
        share_of_customers, total_predicted_clv, share_of_predicted_clv,
        mean_churn_probability, total_lifetime_value
    from segment_summary
    order by total_predicted_clv desc, segment
"""

SPEND_TIERS_SQL = """
    select spend_tier, spend_tier_name, count(*) as customers,
        avg(expected_spend_if_active) as mean_spend_if_active,
        avg(expected_spend_per_order) as mean_spend_per_order,
        sum(predicted_clv) as total_predicted_clv,
        sum(lifetime_value) as total_lifetime_value
    from customer_segments
    group by spend_tier, spend_tier_name
    order by spend_tier
"""

COHORTS_SQL = f"""
    with latest as (
        select distinct cohort_month from cohort_retention
        order by cohort_month desc limit {COHORT_ROWS}
    )
    select cohort_month, months_since_first_order, retention_rate, cohort_size
    from cohort_retention
    where cohort_month in (select cohort_month from latest)
        and months_since_first_order <= {COHORT_MONTHS}
    order by cohort_month, months_since_first_order
"""

HISTOGRAMS_SQL = """
    with snapshots as (
        select distinct as_of_date from score_histograms order by as_of_date desc limit 2
    )
    select as_of_date, score_name, score_bin, customers, customer_share
    from score_histograms
    where as_of_date in (select as_of_date from snapshots)
    order by score_name, as_of_date, score_bin
"""

DRIFT_SQL = """
    select score_name, psi, current_as_of_date, previous_as_of_date,
        current_model_version, previous_model_version
    from score_drift order by score_name
"""

AT_RISK_SQL = f"""
    select customer_id, segment, predicted_clv, churn_probability,
        predicted_clv * churn_probability as value_at_risk, lifetime_value,
        spend_tier_name, recency_days, recommended_action
    from customer_segments
    where churn_risk_band = 'high'
    order by value_at_risk desc, customer_id
    limit {TOP_AT_RISK}
"""


REASONS_SQL = f"""
    select customer_id, phrase
    from customer_score_reasons
    where reason_for = 'churn' and reason_rank <= {REASONS_PER_CUSTOMER}
        and list_contains(?, customer_id)
    order by customer_id, reason_rank
"""


def _reasons(con: duckdb.DuckDBPyConnection, customers: list[str]) -> dict[str, list[str]]:
    """The top churn reasons of `customers` (customer_score_reasons, a required table)."""
    if not customers:
        return {}
    reasons: dict[str, list[str]] = {}
    for customer_id, phrase in con.execute(REASONS_SQL, [customers]).fetchall():
        reasons.setdefault(customer_id, []).append(phrase)
    return reasons


INTERVENTIONS_SQL = """
    select campaign_id, segment, campaign_action, status, days_observed,
        treatment_customers, holdout_customers,
        treatment_retention_rate, holdout_retention_rate,
        retention_difference, retention_difference_ci_low, retention_difference_ci_high,
        revenue_difference, revenue_difference_ci_low, revenue_difference_ci_high
    from intervention_outcomes
    order by start_date, campaign_id
"""


def open_scored(database: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to `database`, or ReportError when it is missing or has not the
    scoring models and marts (what the report and the metrics layer read)."""
    path = Path(database)
    if not path.is_file():
        raise ReportError(
            f"{path}: no warehouse file. Build one first (make demo), or point CLV_DUCKDB_PATH "
            "(or --database) at one."
        )
    con = duckdb.connect(str(path), read_only=True)
    missing = [name for name in REQUIRED_TABLES if name not in _tables(con)]
    if missing:
        con.close()
        raise ReportError(
            f"{path} has no {', '.join(missing)}: the scoring models and marts are not "
            "built. Train and score first: make demo (or make train, then "
            "dbt build --selector scoring)."
        )
    return con


def load(database: Path | str) -> ReportData:
    """Read every section from the warehouse at `database` (read-only)."""
    path = Path(database)
    with open_scored(path) as con:
        tables = _tables(con)
        overview = _rows(con, OVERVIEW_SQL)[0]
        if not overview["customers"]:
            raise ReportError(f"{path}: customer_segments is empty; nothing to report.")
        at_risk = _rows(con, AT_RISK_SQL)
        return ReportData(
            database=str(path),
            overview=overview,
            gain=_rows(con, GAIN_SQL),
            calibration=_rows(con, CALIBRATION_SQL),
            reliability=_rows(con, RELIABILITY_SQL),
            segments=_rows(con, SEGMENTS_SQL),
            spend_tiers=_rows(con, SPEND_TIERS_SQL),
            cohorts=_rows(con, COHORTS_SQL),
            histograms=_rows(con, HISTOGRAMS_SQL),
            drift=_rows(con, DRIFT_SQL),
            at_risk=at_risk,
            reasons=_reasons(con, [row["customer_id"] for row in at_risk]),
            interventions=(
                _rows(con, INTERVENTIONS_SQL) if "intervention_outcomes" in tables else []
            ),
        )
