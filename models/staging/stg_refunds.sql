{#- Valid refunds with the part of each that reduces revenue (`effective_amount`):
    - a refund of a completed order counts, capped so that an order's refunds never exceed its
      total (refunds applied in time order);
    - a refund of an order already 'returned' or 'cancelled' counts 0: that order's revenue is
      already 0, so nothing is subtracted twice;
    - a refund without order_id counts in full against the customer (net revenue is floored at
      0 where it is used). -#}
with

base as (
    select * from {{ ref('base_refunds') }}
),

orders as (
    select
        order_id,
        order_total,
        status
    from {{ ref('stg_orders') }}
),

refunds as (
    select
        refund_id,
        customer_id,
        refunded_at,
        cast(refunded_at as date) as refund_date,
        amount,
        order_id,
        reason
    from base
    where rejection_reason is null
),

linked as (
    select
        refunds.*,
        orders.status as order_status,
        orders.order_total,
        coalesce(sum(refunds.amount) over (
            partition by refunds.order_id
            order by refunds.refunded_at, refunds.refund_id
            rows between unbounded preceding and 1 preceding
        ), 0) as refunded_before
    from refunds
    left join orders
        on refunds.order_id = orders.order_id
),

effective as (
    select
        refund_id,
        customer_id,
        refunded_at,
        refund_date,
        amount,
        order_id,
        reason,
        case
            when order_id is null then 'unlinked'
            when order_status != 'completed' then 'order_already_' || order_status
            when amount > order_total - refunded_before then 'capped_at_order_total'
            else 'applied'
        end as refund_effect,
        round(case
            when order_id is null then amount
            when order_status != 'completed' then 0
            else greatest(least(amount, order_total - refunded_before), 0)
        end, 2) as effective_amount
    from linked
)

select * from effective
