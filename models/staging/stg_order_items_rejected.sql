with

base as (
    select * from {{ ref('base_order_items') }}
),

rejected as (
    select
        rejection_reason,
        {{ rejected_columns('order_items') }}
    from base
    where rejection_reason is not null
)

select * from rejected
