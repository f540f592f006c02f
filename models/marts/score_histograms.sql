{{ config(materialized='incremental', incremental_strategy='append') }}
{#- One histogram per dbt invocation of the current scores (fixed bins), appended: the history
    score_drift compares. -#}
with

customer_scores as (
    select
        predicted_clv,
        churn_probability,
        model_version,
        as_of_date
    from {{ ref('customer_scores') }}
),

binned as (
    select
        'churn_probability' as score_name,
        cast(least(9, floor(churn_probability * 10)) as integer) as score_bin,
        model_version,
        as_of_date
    from customer_scores
    union all
    select
        'predicted_clv' as score_name,
        case
            when predicted_clv < 1 then 0
            when predicted_clv < 5 then 1
            when predicted_clv < 10 then 2
            when predicted_clv < 25 then 3
            when predicted_clv < 50 then 4
            when predicted_clv < 100 then 5
            when predicted_clv < 250 then 6
            when predicted_clv < 500 then 7
            when predicted_clv < 1000 then 8
            else 9
        end as score_bin,
        model_version,
        as_of_date
    from customer_scores
),

histogram as (
    select
        '{{ invocation_id }}' as invocation_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as run_at,
        score_name,
        score_bin,
        any_value(model_version) as model_version,
        any_value(as_of_date) as as_of_date,
        count(*) as customers,
        count(*) / sum(count(*)) over (partition by score_name) as customer_share
    from binned
    group by score_name, score_bin
)

select * from histogram
