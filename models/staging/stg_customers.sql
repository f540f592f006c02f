with

validated as (
    select * from {{ ref('int_customers_validated') }}
),

clean as (
    select
        customer_id,
        signed_up_at,
        country,
        acquisition_channel
    from validated
    where rejection_reason is null
)

select * from clean
