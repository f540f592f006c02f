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

ranked as (
    select
        *,
        datediff('month', cohort_month, cutoff_date) as months_since_first_order,
        count(*) over cohort as cohort_size,
        row_number() over (
            partition by cutoff_date, cohort_month order by monetary_total, customer_id
        ) as revenue_rank,
        percent_rank() over (
            partition by cutoff_date, cohort_month order by monetary_total
        ) as revenue_percentile_in_cohort
    from with_cohort
    window cohort as (partition by cutoff_date, cohort_month)
),

trimmed as (
    {#- Robust cohort statistics, so that no customer's outlier moves another customer's
        features: the median, and means trimmed of the top and bottom 5% of customers by
        revenue (at least one each side once the cohort has three customers). -#}
    select
        *,
        revenue_rank > {{ cohort_trim('cohort_size') }}
        and revenue_rank <= cohort_size - {{ cohort_trim('cohort_size') }} as is_in_trimmed_mean
    from ranked
),

cohort_stats as (
    select
        cutoff_date,
        cohort_month,
        median(monetary_total) as cohort_median_revenue,
        {#- Summed as decimals (exact), so the mean does not depend on thread order. -#}
        cast(
            avg(cast(monetary_total as decimal(38, 2))) filter (where is_in_trimmed_mean)
            as double
        ) as cohort_mean_revenue,
        avg(frequency) filter (where is_in_trimmed_mean) as cohort_mean_frequency,
        avg(cast(purchase_days >= 2 as double)) as cohort_repeat_rate,
        avg(cast(purchases_last_90d > 0 as double)) as cohort_active_rate_90d
    from trimmed
    group by cutoff_date, cohort_month
),

positioned as (
    select
        ranked.customer_id,
        ranked.cutoff_date,
        ranked.cohort_month,
        ranked.months_since_first_order,
        coalesce(ranked.country, 'unknown') as country,
        coalesce(ranked.acquisition_channel, 'unknown') as acquisition_channel,
        ranked.days_from_signup_to_first_order,
        ranked.cohort_size,
        cohort_stats.cohort_median_revenue,
        cohort_stats.cohort_mean_revenue,
        cohort_stats.cohort_mean_frequency,
        cohort_stats.cohort_repeat_rate,
        cohort_stats.cohort_active_rate_90d,
        ranked.revenue_percentile_in_cohort,
        ranked.monetary_total / nullif(cohort_stats.cohort_median_revenue, 0)
            as revenue_vs_cohort
    from ranked
    inner join cohort_stats
        on
            ranked.cutoff_date = cohort_stats.cutoff_date
            and ranked.cohort_month = cohort_stats.cohort_month
)

select * from positioned
