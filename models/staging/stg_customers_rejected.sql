with

base as (
    select * from {{ ref('base_customers') }}
),

rejected as (
    select
        rejection_reason,
        {{ rejected_columns('customers') }}
    from base
    where rejection_reason is not null
)

select * from rejected
