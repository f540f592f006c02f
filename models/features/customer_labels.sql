{#- Future labels for training cutoffs: orders in [cutoff, cutoff + horizon). -#}
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
        greatest(coalesce(future_orders.future_revenue, 0), 0) as future_revenue,
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
)

select * from labels
