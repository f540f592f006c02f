with

validated as (
    select * from {{ ref('int_products_validated') }}
),

rejected as (
    select
        rejection_reason,
        raw_product_id as product_id,
        raw_product_name as product_name,
        raw_category as category
    from validated
    where rejection_reason is not null
)

select * from rejected
