with

base as (
    select * from {{ ref('base_products') }}
),

clean as (
    select
        product_id,
        product_name,
        category
    from base
    where rejection_reason is null
)

select * from clean
