{#- The distribution of predicted_clv and churn_probability over ten fixed bins in each
    snapshot of customer_score_history (one per as_of_date and model version): the input of
    score_drift. -#}
with

history as (
    select
        as_of_date,
        model_version,
        predicted_clv,
        churn_probability,
        scored_at
    from {{ ref('customer_score_history') }}
),

binned as (
    select
        as_of_date,
        model_version,
        scored_at,
        'churn_probability' as score_name,
        cast(least(9, floor(churn_probability * 10)) as integer) as score_bin
    from history
    union all
    select
        as_of_date,
        model_version,
        scored_at,
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
        end as score_bin
    from history
),

histogram as (
    select
        as_of_date,
        model_version,
        score_name,
        score_bin,
        count(*) as customers,
        count(*) / sum(count(*)) over (
            partition by as_of_date, model_version, score_name
        ) as customer_share
    from binned
    group by as_of_date, model_version, score_name, score_bin
)

select * from histogram
