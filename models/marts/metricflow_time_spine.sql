{#- MetricFlow's time spine: one row per day, from 1 January of the year of the first order to
    31 December of the year in which the last label window (latest cutoff + the longest
    horizon) ends, so every date a metric can be grouped or offset by is on it. Orders and
    cutoffs only: built with the features, no trained model needed. -#}
{%- set max_horizon = [setting('horizon_days'), setting('churn_horizon_days')] | max -%}

with

orders as (
    select order_date from {{ ref('stg_orders') }}
),

cutoffs as (
    select cutoff_date from {{ ref('cutoffs') }}
),

bounds as (
    select
        cast(date_trunc('year', (select min(order_date) from orders)) as date) as first_day,
        cast(
            date_trunc(
                'year',
                (select max(cutoff_date) from cutoffs) + {{ max_horizon }}
            ) + interval 1 year - interval 1 day as date
        ) as last_day
),

days as (
    select cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as date_day
    from bounds
)

select date_day from days
