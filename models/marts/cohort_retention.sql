{#- Cohort x months-since-first-order matrix at as_of_date, dense (months without activity
    are zero rows), for BI. -#}
with

cutoffs as (
    select cutoff_date as as_of_date from {{ ref('cutoffs') }}
    where is_scoring_cutoff
),

orders as (
    select
        customer_id,
        ordered_at,
        order_date,
        net_revenue,
        is_purchase
    from {{ ref('stg_orders') }}
),

orders_before_as_of as (
    select orders.*
    from orders
    inner join cutoffs
        on orders.ordered_at < cutoffs.as_of_date
),

first_orders as (
    select
        customer_id,
        cast(date_trunc('month', min(order_date)) as date) as cohort_month
    from orders_before_as_of
    group by customer_id
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from first_orders
    group by cohort_month
),

cohort_month_offsets as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        cutoffs.as_of_date,
        range(
            datediff('month', cohort_sizes.cohort_month, cutoffs.as_of_date - 1) + 1
        ) as month_offsets
    from cohort_sizes
    cross join cutoffs
),

cohort_months as (
    select
        cohort_month,
        cohort_size,
        as_of_date,
        cast(unnest(month_offsets) as integer) as months_since_first_order
    from cohort_month_offsets
),

activity as (
    select
        first_orders.cohort_month,
        datediff(
            'month',
            first_orders.cohort_month,
            date_trunc('month', orders_before_as_of.order_date)
        ) as months_since_first_order,
        count(distinct orders_before_as_of.customer_id) filter (
            where orders_before_as_of.is_purchase
        ) as active_customers,
        sum(orders_before_as_of.net_revenue) as revenue
    from orders_before_as_of
    inner join first_orders
        on orders_before_as_of.customer_id = first_orders.customer_id
    group by all
),

matrix as (
    select
        cohort_months.cohort_month,
        cohort_months.months_since_first_order,
        cohort_months.cohort_size,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.active_customers, 0) / cohort_months.cohort_size as retention_rate,
        coalesce(activity.revenue, 0) as revenue,
        sum(coalesce(activity.revenue, 0)) over (
            partition by cohort_months.cohort_month
            order by cohort_months.months_since_first_order
        ) / cohort_months.cohort_size as cumulative_revenue_per_customer,
        cohort_months.as_of_date
    from cohort_months
    left join activity
        on
            cohort_months.cohort_month = activity.cohort_month
            and cohort_months.months_since_first_order = activity.months_since_first_order
)

select * from matrix
