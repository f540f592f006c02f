with

cutoffs as (
    select cutoff_date from {{ ref('cutoffs') }}
),

orders as (
    select
        customer_id,
        ordered_at,
        order_date,
        net_revenue,
        is_purchase,
        is_returned,
        is_cancelled
    from {{ ref('stg_orders') }}
),

refunds as (
    select
        customer_id,
        refunded_at,
        effective_amount
    from {{ ref('stg_refunds') }}
),

orders_before_cutoff as (
    {#- Point in time: only orders strictly before the cutoff. -#}
    select
        cutoffs.cutoff_date,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.net_revenue,
        orders.is_purchase,
        orders.is_returned,
        orders.is_cancelled
    from cutoffs
    inner join orders
        on cutoffs.cutoff_date > orders.ordered_at
),

purchase_days as (
    select
        cutoff_date,
        customer_id,
        order_date,
        round(sum(net_revenue), 2) as day_revenue
    from orders_before_cutoff
    where is_purchase
    group by cutoff_date, customer_id, order_date
),

purchase_gaps as (
    select
        cutoff_date,
        customer_id,
        day_revenue,
        row_number() over customer_days as purchase_day_number,
        order_date - lag(order_date) over customer_days as gap_days
    from purchase_days
    window customer_days as (partition by cutoff_date, customer_id order by order_date)
),

gap_stats as (
    select
        cutoff_date,
        customer_id,
        count(*) as purchase_days,
        avg(gap_days) as mean_gap_days,
        stddev_samp(gap_days) as stddev_gap_days,
        max(gap_days) as max_gap_days,
        avg(day_revenue) filter (
            where purchase_day_number > 1
        ) as repeat_purchase_value_mean
    from purchase_gaps
    group by cutoff_date, customer_id
),

order_stats as (
    select
        cutoff_date,
        customer_id,
        min(order_date) as first_order_date,
        min(order_date) filter (where is_purchase) as first_purchase_date,
        max(order_date) filter (where is_purchase) as last_purchase_date,
        count(*) as orders,
        count(*) filter (where is_purchase) as frequency,
        count(*) filter (where is_returned) as returned_orders,
        count(*) filter (where is_cancelled) as cancelled_orders,
        round(sum(net_revenue), 2) as monetary_total,
        count(*) filter (
            where is_purchase and ordered_at >= cutoff_date - interval 30 day
        ) as purchases_last_30d,
        count(*) filter (
            where is_purchase and ordered_at >= cutoff_date - interval 90 day
        ) as purchases_last_90d,
        count(*) filter (
            where is_purchase and ordered_at >= cutoff_date - interval 365 day
        ) as purchases_last_365d,
        round(coalesce(sum(net_revenue) filter (
            where ordered_at >= cutoff_date - interval 90 day
        ), 0), 2) as revenue_last_90d,
        round(coalesce(sum(net_revenue) filter (
            where ordered_at >= cutoff_date - interval 365 day
        ), 0), 2) as revenue_last_365d
    from orders_before_cutoff
    group by cutoff_date, customer_id
),

refund_stats as (
    {#- Point in time: a refund is seen only once issued (refunded_at < cutoff). -#}
    select
        cutoffs.cutoff_date,
        refunds.customer_id,
        count(*) as refunds,
        round(sum(refunds.effective_amount), 2) as refunded_amount
    from cutoffs
    inner join refunds
        on cutoffs.cutoff_date > refunds.refunded_at
    group by cutoffs.cutoff_date, refunds.customer_id
),

customer_metrics as (
    select
        order_stats.customer_id,
        order_stats.cutoff_date,
        order_stats.first_order_date,
        order_stats.last_purchase_date,
        {#- Without any completed purchase, recency counts from the first order. -#}
        order_stats.cutoff_date
        - coalesce(order_stats.last_purchase_date, order_stats.first_order_date)
            as recency_days,
        order_stats.cutoff_date - order_stats.first_order_date as tenure_days,
        order_stats.orders,
        order_stats.frequency,
        coalesce(gap_stats.purchase_days, 0) as purchase_days,
        greatest(coalesce(gap_stats.purchase_days, 0) - 1, 0) as repeat_purchase_days,
        coalesce(
            order_stats.last_purchase_date - order_stats.first_purchase_date, 0
        ) as purchase_span_days,
        order_stats.monetary_total,
        coalesce(order_stats.monetary_total / nullif(order_stats.frequency, 0), 0)
            as monetary_mean,
        gap_stats.repeat_purchase_value_mean,
        gap_stats.mean_gap_days,
        gap_stats.stddev_gap_days,
        gap_stats.max_gap_days,
        order_stats.purchases_last_30d,
        order_stats.purchases_last_90d,
        order_stats.purchases_last_365d,
        order_stats.revenue_last_90d,
        order_stats.revenue_last_365d,
        order_stats.returned_orders,
        order_stats.cancelled_orders,
        order_stats.returned_orders / order_stats.orders as return_rate,
        coalesce(refund_stats.refunds, 0) as refunds,
        coalesce(refund_stats.refunded_amount, 0) as refunded_amount,
        greatest(
            round(order_stats.monetary_total - coalesce(refund_stats.refunded_amount, 0), 2), 0
        ) as net_monetary_total
    from order_stats
    left join gap_stats
        on
            order_stats.cutoff_date = gap_stats.cutoff_date
            and order_stats.customer_id = gap_stats.customer_id
    left join refund_stats
        on
            order_stats.cutoff_date = refund_stats.cutoff_date
            and order_stats.customer_id = refund_stats.customer_id
),

scored as (
    select
        *,
        {{ quintile_score('recency_days desc') }} as r_score,
        {{ quintile_score('frequency') }} as f_score,
        {{ quintile_score('monetary_total') }} as m_score
    from customer_metrics
),

segmented as (
    select
        *,
        {{ rfm_segment('r_score', 'f_score') }} as rfm_segment,
        {{ lifecycle_stage('recency_days', 'tenure_days', 'purchase_days') }} as lifecycle_stage
    from scored
)

select * from segmented
