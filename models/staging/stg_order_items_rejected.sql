with

validated as (
    select * from {{ ref('int_order_items_validated') }}
),

rejected as (
    select
        rejection_reason,
        raw_order_id as order_id,
        raw_product_id as product_id,
        raw_quantity as quantity,
        raw_unit_price as unit_price
    from validated
    where rejection_reason is not null
)

select * from rejected
