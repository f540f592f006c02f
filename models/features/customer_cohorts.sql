with

customer_rfm as (
    select
        customer_id,
        cutoff_date,
        first_order_date,
        frequency,
        purchase_days,
        monetary_total,
        purchases_last_90d
    from {{ ref('customer_rfm') }}
),

customers as (
    select
        customer_id,
        signed_up_at,
        country,
        acquisition_channel
    from {{ ref('stg_customers') }}
),

with_cohort as (
    select
        customer_rfm.*,
        cast(date_trunc('month', customer_rfm.first_order_date) as date) as cohort_month,
        {#- Master data counts only once it exists at the cutoff. -#}
        
        case
            when customers.signed_up_at < customer_rfm.cutoff_date
                then customers.country
        end as country,
        case
            when customers.signed_up_at < customer_rfm.cutoff_date
                then customers.acquisition_channel
        end as acquisition_channel,
        case
            when customers.signed_up_at < customer_rfm.cutoff_date
                then customer_rfm.first_order_date - cast(customers.signed_up_at as date)
        end as days_from_signup_to_first_order
    from customer_rfm
    left join customers
        on customer_rfm.customer_id = customers.customer_id
),

cohort_stats as (
    select
        *,
        datediff('month', cohort_month, cutoff_date) as months_since_first_order,
        count(*) over cohort as cohort_size,
        avg(monetary_total) over cohort as cohort_mean_revenue,
        avg(frequency) over cohort as cohort_mean_frequency,
        avg(cast(purchase_days >= 2 as double)) over cohort as cohort_repeat_rate,
        avg(cast(purchases_last_90d > 0 as double)) over cohort as cohort_active_rate_90d,
        percent_rank() over (
            partition by cutoff_date, cohort_month order by monetary_total
        ) as revenue_percentile_in_cohort
    from with_cohort
    window cohort as (partition by cutoff_date, cohort_month)
),

positioned as (
    select
        customer_id,
        cutoff_date,
        cohort_month,
        months_since_first_order,
        coalesce(country, 'unknown') as country,
        coalesce(acquisition_channel, 'unknown') as acquisition_channel,
        days_from_signup_to_first_order,
        cohort_size,
        cohort_mean_revenue,
        cohort_mean_frequency,
        cohort_repeat_rate,
        cohort_active_rate_90d,
        revenue_percentile_in_cohort,
        monetary_total / nullif(cohort_mean_revenue, 0) as revenue_vs_cohort
    from cohort_stats
)

select * from positioned
