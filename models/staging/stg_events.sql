with

validated as (
    select * from {{ ref('int_events_validated') }}
),

clean as (
    select
        customer_id,
        event_at,
        event_type,
        product_id,
        search_query
    from validated
    where rejection_reason is null
)

select * from clean
