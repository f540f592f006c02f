with

base as (
    select * from {{ ref('base_refunds') }}
),

rejected as (
    select
        rejection_reason,
        {{ rejected_columns('refunds') }}
    from base
    where rejection_reason is not null
)

select * from rejected
