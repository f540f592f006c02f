{#- Every raw order item row, typed, with the reason it is quarantined (null when clean).
    Repeated lines of one product in one order are all valid: stg_order_items sums them. -#}
with

raw_order_items as (
    {{ raw_table('order_items') }}
),

orders as (
    select order_id from {{ ref('base_orders') }}
    where rejection_reason is null
),

typed as (
    select {{ typed_columns('order_items') }}
    from raw_order_items
),

checked as (
    select
        typed.*,
        case
            when typed.order_id is null then 'null_order_id'
            when typed.product_id is null then 'null_product_id'
            when typed.is_quantity_unparseable then 'unparseable_quantity'
            when
                typed.quantity is null
                or not isfinite(typed.quantity)
                or typed.quantity <= 0
                or typed.quantity > 1e9
                or typed.quantity != floor(typed.quantity)
                then 'invalid_quantity'
            when typed.is_unit_price_unparseable then 'unparseable_unit_price'
            when typed.unit_price is null or not isfinite(typed.unit_price)
                then 'non_finite_unit_price'
            when typed.unit_price < 0 then 'negative_unit_price'
            when orders.order_id is null then 'unknown_order'
        end as invalid_reason
    from typed
    left join orders
        on typed.order_id = orders.order_id
)

select
    order_id,
    product_id,
    try_cast(quantity as bigint) as quantity,
    unit_price,
    invalid_reason as rejection_reason,
    {{ rejected_raw_columns('order_items') }}
from checked
