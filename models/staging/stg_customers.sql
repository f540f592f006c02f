with

base as (
    select * from {{ ref('base_customers') }}
),

clean as (
    select
        customer_id,
        signed_up_at,
        country,
        acquisition_channel
    from base
    where rejection_reason is null
)

select * from clean
