{#- Future labels for training cutoffs: orders and refunds in [cutoff, cutoff + horizon). -#}
with

cutoffs as (
    select
        cutoff_date,
        horizon_end_date,
        churn_horizon_end_date
    from {{ ref('cutoffs') }}
    where is_training_cutoff
),

customer_rfm as (
    select
        customer_id,
        cutoff_date
    from {{ ref('customer_rfm') }}
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

refunds as (
    select
        customer_id,
        refunded_at,
        effective_amount
    from {{ ref('stg_refunds') }}
),

future_refunds as (
    {#- Refunds issued in [cutoff, cutoff + horizon), whatever the order they refund. -#}
    select
        cutoffs.cutoff_date,
        refunds.customer_id,
        sum(refunds.effective_amount) as future_refunded_amount
    from cutoffs
    inner join refunds
        on
            cutoffs.cutoff_date <= refunds.refunded_at
            and cutoffs.horizon_end_date > refunds.refunded_at
    group by cutoffs.cutoff_date, refunds.customer_id
),

future_orders as (
    select
        cutoffs.cutoff_date,
        orders.customer_id,
        coalesce(sum(orders.net_revenue) filter (
            where orders.ordered_at < cutoffs.horizon_end_date
        ), 0) as future_revenue,
        count(*) filter (
            where orders.is_purchase and orders.ordered_at < cutoffs.horizon_end_date
        ) as future_purchases,
        count(distinct orders.order_date) filter (
            where orders.is_purchase and orders.ordered_at < cutoffs.horizon_end_date
        ) as future_purchase_days,
        count(*) filter (
            where orders.is_purchase and orders.ordered_at < cutoffs.churn_horizon_end_date
        ) as purchases_in_churn_horizon
    from cutoffs
    inner join orders
        on
            cutoffs.cutoff_date <= orders.ordered_at
            and orders.ordered_at
            < greatest(cutoffs.horizon_end_date, cutoffs.churn_horizon_end_date)
    group by cutoffs.cutoff_date, orders.customer_id
),

labels as (
    select
        customer_rfm.customer_id,
        customer_rfm.cutoff_date,
        {#- Net of the refunds issued in the window, floored at 0. -#}
        greatest(
            round(
                coalesce(future_orders.future_revenue, 0)
                - coalesce(future_refunds.future_refunded_amount, 0),
                2
            ),
            0
        ) as future_revenue,
        round(coalesce(future_refunds.future_refunded_amount, 0), 2) as future_refunded_amount,
        coalesce(future_orders.future_purchases, 0) as future_purchases,
        coalesce(future_orders.future_purchase_days, 0) as future_purchase_days,
        coalesce(future_orders.purchases_in_churn_horizon, 0) = 0 as churned
    from customer_rfm
    inner join cutoffs
        on customer_rfm.cutoff_date = cutoffs.cutoff_date
    left join future_orders
        on
            customer_rfm.cutoff_date = future_orders.cutoff_date
            and customer_rfm.customer_id = future_orders.customer_id
    left join future_refunds
        on
            customer_rfm.cutoff_date = future_refunds.cutoff_date
            and customer_rfm.customer_id = future_refunds.customer_id
)

select * from labels
