with

base as (
    select * from {{ ref('base_orders') }}
),

clean as (
    select
        order_id,
        customer_id,
        ordered_at,
        cast(ordered_at as date) as order_date,
        order_total,
        status,
        status = 'completed' as is_purchase,
        status = 'returned' as is_returned,
        status = 'cancelled' as is_cancelled,
        {#- Returned orders are refunded and cancelled ones never paid: both net to zero. -#}
        case when status = 'completed' then order_total else 0 end as net_revenue
    from base
    where rejection_reason is null
)

select * from clean
