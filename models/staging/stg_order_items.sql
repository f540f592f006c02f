with

validated as (
    select * from {{ ref('int_order_items_validated') }}
),

clean as (
    select
        order_id,
        product_id,
        quantity,
        unit_price
    from validated
    where rejection_reason is null
)

select * from clean
