with

validated as (
    select * from {{ ref('int_products_validated') }}
),

clean as (
    select
        product_id,
        product_name,
        category
    from validated
    where rejection_reason is null
)

select * from clean
