"""Print a short summary of a built warehouse: ``python -m shopdata.summary [DB_PATH]``.

Without DB_PATH it reads the project's warehouse (CLV_DUCKDB_PATH, see python_udfs.settings).
"""

from __future__ import annotations

import sys

import duckdb

from python_udfs import settings

QUERIES = {
    "Raw rows, clean and quarantined (order_items: raw lines; staging sums repeated ones)": """
        select 'orders' as table_name,
            (select count(*) from stg_orders) as clean,
            (select count(*) from stg_orders_rejected) as rejected
        union all select 'order_items',
            (select cast(coalesce(sum(raw_lines), 0) as bigint) from stg_order_items),
            (select count(*) from stg_order_items_rejected)
        union all select 'refunds', (select count(*) from stg_refunds),
            (select count(*) from stg_refunds_rejected)
        union all select 'products', (select count(*) from stg_products),
            (select count(*) from stg_products_rejected)
        union all select 'events', (select count(*) from stg_events),
            (select count(*) from stg_events_rejected)
        union all select 'reviews', (select count(*) from stg_reviews),
            (select count(*) from stg_reviews_rejected)
        union all select 'customers', (select count(*) from stg_customers),
            (select count(*) from stg_customers_rejected)
    """,
    "Cutoffs": "select * from cutoffs order by cutoff_date",
    "Training examples per cutoff": """
        select cutoff_date, count(*) as customers,
            round(avg(future_revenue), 2) as mean_future_revenue,
            round(avg(cast(churned as double)), 3) as churn_rate
        from training_examples group by cutoff_date order by cutoff_date
    """,
    "Customers at as_of_date by lifecycle stage": """
        select lifecycle_stage, count(*) as customers,
            round(avg(monetary_total), 2) as mean_revenue
        from customer_features group by lifecycle_stage order by customers desc
    """,
    "RFM segments at as_of_date": """
        select rfm_segment, count(*) as customers from customer_features
        group by rfm_segment order by customers desc
    """,
    "Segments (customer_segments / segment_summary)": """
        select segment, recommended_action, customers,
            round(share_of_customers, 3) as share_customers,
            round(share_of_predicted_clv, 3) as share_predicted_clv,
            round(mean_predicted_clv, 2) as mean_clv,
            round(mean_churn_probability, 3) as mean_churn
        from segment_summary order by total_predicted_clv desc
    """,
    "Top customers by predicted CLV": """
        select customer_id, segment, round(predicted_clv, 2) as predicted_clv,
            round(churn_probability, 3) as churn_probability, rfm_segment, model_version
        from customer_segments order by predicted_clv desc, customer_id limit 10
    """,
    "Calibration at the backtest cutoff (clv_calibration)": """
        select decile, customers, round(mean_predicted_clv, 2) as predicted,
            round(mean_actual_revenue, 2) as actual,
            round(mean_churn_probability, 3) as churn_predicted,
            round(actual_churn_rate, 3) as churn_actual
        from clv_calibration order by decile
    """,
    "Example behaviour texts": """
        select customer_id, behaviour_text from customer_features
        order by monetary_total desc, customer_id limit 3
    """,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else str(settings.load().duckdb_path)
    with duckdb.connect(path, read_only=True) as con:
        tables = {
            name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()
        }
        for title, sql in QUERIES.items():
            if "segment" in sql and "segment_summary" not in tables:
                continue  # scoring not built yet
            print(f"\n== {title}")
            print(con.sql(sql))
    return 0


if __name__ == "__main__":
    sys.exit(main())
