with

raw_order_items as (
    {{ raw_table('order_items', ['order_id', 'product_id', 'quantity', 'unit_price']) }}
),

orders as (
    select order_id from {{ ref('int_orders_validated') }}
    where rejection_reason is null
),

typed as (
    select
        {{ clean_id('order_id') }} as order_id,
        {{ clean_id('product_id') }} as product_id,
        try_cast(quantity as double) as quantity,
        try_cast(unit_price as double) as unit_price,
        {{ keep_raw('order_id') }},
        {{ keep_raw('product_id') }},
        {{ keep_raw('quantity') }},
        {{ keep_raw('unit_price') }},
        {{ is_unparseable('quantity', 'double') }} as is_quantity_unparseable,
        {{ is_unparseable('unit_price', 'double') }} as is_unit_price_unparseable
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
),

deduplicated as (
    select
        *,
        coalesce(
            invalid_reason,
            case
                when
                    row_number() over (
                        partition by invalid_reason is null, order_id, product_id
                        order by quantity, unit_price
                    ) > 1
                    then 'duplicate_order_item'
            end
        ) as rejection_reason
    from checked
)

select
    order_id,
    product_id,
    try_cast(quantity as bigint) as quantity,
    unit_price,
    rejection_reason,
    {{ rejected_raw_columns(['order_id', 'product_id', 'quantity', 'unit_price']) }}
from deduplicated
