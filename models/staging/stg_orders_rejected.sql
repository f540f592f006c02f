with

base as (
    select * from {{ ref('base_orders') }}
),

rejected as (
    select
        rejection_reason,
        {{ rejected_columns('orders') }}
    from base
    where rejection_reason is not null
)

select * from rejected
