"""Check the lifetime-value extrapolation on CDNOW against the revenue that followed.

The model predicts revenue over `horizon_days` (273 on CDNOW); `lifetime_value` extrapolates
beyond it with the predicted retention (macros/lifetime_value.sql). CDNOW's log ends on
1998-06-30, so scoring at 1997-04-01 leaves 15 months of realised revenue: months 1-9 are the
horizon, months 10-15 are pure extrapolation. This scores the warehouse at that date with a
trained model (undiscounted, margin 1, T = 15) and compares, on the same customers, the
predicted horizon and tail revenue with what they spent, next to the naive extrapolation that
keeps every customer spending at the horizon's rate (no retention decay).

    python -m benchmarks.lifetime_value --model artifacts [--raw data/cdnow]

Caveat: the model's training cutoffs (by default the rolling ones ending at 1997-10-01) have
labels inside these 15 months, so the horizon part is in-sample; the tail check is about the
extrapolation rule, which no label taught the model.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import duckdb

from benchmarks.dbt import invoke

AS_OF = "1997-04-01"
LIFETIME_MONTHS = 15
HORIZON_DAYS = 273
# The horizon in whole months, as macros/lifetime_value.sql months_in() counts it (30.4375 days).
HORIZON_MONTHS = round(HORIZON_DAYS / 30.4375)
LIFETIME_END = "1998-07-01"

COMPARISON_SQL = f"""
    with realised as (
        select
            customer_id,
            coalesce(sum(net_revenue) filter (
                where order_date < date '{AS_OF}' + {HORIZON_DAYS}), 0) as horizon_revenue,
            coalesce(sum(net_revenue) filter (
                where order_date >= date '{AS_OF}' + {HORIZON_DAYS}), 0) as tail_revenue
        from stg_orders
        where is_purchase and order_date >= date '{AS_OF}' and order_date < date '{LIFETIME_END}'
        group by customer_id
    ),
    compared as (
        select
            segments.customer_id,
            segments.predicted_clv,
            segments.lifetime_value - segments.predicted_clv as predicted_tail,
            segments.predicted_clv * ({LIFETIME_MONTHS} - {HORIZON_MONTHS})
                / {HORIZON_MONTHS}.0 as naive_tail,
            coalesce(realised.horizon_revenue, 0) as horizon_revenue,
            coalesce(realised.tail_revenue, 0) as tail_revenue
        from customer_segments as segments
        left join realised on segments.customer_id = realised.customer_id
    )
    select
        count(*) as customers,
        sum(predicted_clv) as predicted_horizon,
        sum(horizon_revenue) as realised_horizon,
        sum(predicted_tail) as predicted_tail,
        sum(naive_tail) as naive_tail,
        sum(tail_revenue) as realised_tail,
        corr(predicted_tail, tail_revenue) as tail_correlation,
        avg(abs(predicted_tail - tail_revenue)) as tail_mae,
        avg(abs(naive_tail - tail_revenue)) as naive_tail_mae
    from compared
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="trained artifacts folder")
    parser.add_argument("--raw", type=Path, default=Path("data/cdnow"), help="CDNOW raw folder")
    args = parser.parse_args(argv)
    if not (args.model / "current").is_file():
        parser.error(f"{args.model} has no trained model (no 'current'): run make demo first")
    with tempfile.TemporaryDirectory(prefix="lifetime_value_") as tmp:
        work = Path(tmp)
        env = {
            "CLV_DUCKDB_PATH": str(work / "warehouse.duckdb"),
            "CLV_MODEL_PATH": str(args.model.resolve()),
            "CLV_EXPORT_PATH": str(work / "exports"),
        }
        dbt_vars = {
            "raw_path": str(args.raw.resolve()),
            "as_of_date": AS_OF,
            # No cutoff at or after the data's start has complete labels by 1997-04-01: an
            # earlier one keeps the label checks quiet (this run trains nothing).
            "training_cutoffs": ["1996-06-01"],
            "lifetime_months": LIFETIME_MONTHS,
            "discount_rate_monthly": 0,
            "gross_margin": 1,
        }
        for selector in ("features", "scoring"):
            run = invoke(["build", "--selector", selector], work, env, dbt_vars,
                         capture_output=True, text=True)  # fmt: skip
            if run.returncode:
                raise SystemExit(f"dbt build --selector {selector} failed:\n{run.stdout[-3000:]}")
        with duckdb.connect(env["CLV_DUCKDB_PATH"], read_only=True) as con:
            cursor = con.execute(COMPARISON_SQL)
            names = [column[0] for column in cursor.description]
            row = dict(zip(names, cursor.fetchone(), strict=True))
    print(f"Scored at {AS_OF}, horizon {HORIZON_DAYS} days, T = {LIFETIME_MONTHS} months:")
    for name, value in row.items():
        print(f"  {name:18s} {value:,.3f}" if isinstance(value, float) else f"  {name:18s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
