{#- Predicted vs actual by decile of predicted CLV at the backtest cutoff (latest training
    cutoff, where labels exist). Deciles use percent ranks, so tied predictions share one. -#}
with

backtest_scores as (
    select
        customer_id,
        cutoff_date,
        predicted_clv,
        churn_probability,
        actual_revenue,
        actual_churned,
        model_version
    from {{ ref('backtest_scores') }}
),

deciled as (
    select
        *,
        cast(
            1 + least(9, floor(10 * percent_rank() over (order by predicted_clv desc)))
            as integer
        ) as decile
    from backtest_scores
),

calibration as (
    select
        decile,
        any_value(cutoff_date) as cutoff_date,
        any_value(model_version) as model_version,
        count(*) as customers,
        avg(predicted_clv) as mean_predicted_clv,
        avg(actual_revenue) as mean_actual_revenue,
        sum(predicted_clv) as total_predicted_clv,
        sum(actual_revenue) as total_actual_revenue,
        avg(churn_probability) as mean_churn_probability,
        avg(cast(actual_churned as double)) as actual_churn_rate
    from deciled
    group by decile
)

select * from calibration
