with

validated as (
    select * from {{ ref('int_events_validated') }}
),

rejected as (
    select
        rejection_reason,
        raw_customer_id as customer_id,
        raw_event_at as event_at,
        raw_event_type as event_type,
        raw_product_id as product_id,
        raw_search_query as search_query
    from validated
    where rejection_reason is not null
)

select * from rejected
