with

base as (
    select * from {{ ref('base_products') }}
),

rejected as (
    select
        rejection_reason,
        {{ rejected_columns('products') }}
    from base
    where rejection_reason is not null
)

select * from rejected
