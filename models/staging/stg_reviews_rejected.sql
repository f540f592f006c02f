with

base as (
    select * from {{ ref('base_reviews') }}
),

rejected as (
    select
        rejection_reason,
        {{ rejected_columns('reviews') }}
    from base
    where rejection_reason is not null
)

select * from rejected
