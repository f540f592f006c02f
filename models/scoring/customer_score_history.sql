{{ config(
    materialized='incremental',
    unique_key=['as_of_date', 'model_version'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}
{#- Every customer's scores, one snapshot per as_of_date and model version, appended by each
    run: trends, drift (score_histograms, score_drift) and intervention outcomes in SQL. A rerun
    for the same day and model replaces that day's snapshot (idempotent). -#}
with

as_of as (
    select max(cutoff_date) as as_of_date from {{ ref('customer_features') }}
),

customer_scores as (
    select
        customer_id,
        model_version,
        predicted_clv,
        churn_probability,
        purchase_probability,
        clv_p10,
        clv_p50,
        clv_p90,
        scored_at
    from {{ ref('customer_scores') }}
),

final as (
    select
        as_of.as_of_date,
        customer_scores.*
    from customer_scores
    cross join as_of
)

select * from final
