with

validated as (
    select * from {{ ref('int_customers_validated') }}
),

rejected as (
    select
        rejection_reason,
        raw_customer_id as customer_id,
        raw_signed_up_at as signed_up_at,
        raw_country as country,
        raw_acquisition_channel as acquisition_channel
    from validated
    where rejection_reason is not null
)

select * from rejected
