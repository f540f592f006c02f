with

validated as (
    select * from {{ ref('int_orders_validated') }}
),

rejected as (
    select
        rejection_reason,
        raw_order_id as order_id,
        raw_customer_id as customer_id,
        raw_ordered_at as ordered_at,
        raw_order_total as order_total,
        raw_status as status
    from validated
    where rejection_reason is not null
)

select * from rejected
