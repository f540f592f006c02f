with

base as (
    select * from {{ ref('base_events') }}
),

rejected as (
    select
        rejection_reason,
        {{ rejected_columns('events') }}
    from base
    where rejection_reason is not null
)

select * from rejected
