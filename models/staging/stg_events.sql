with

base as (
    select * from {{ ref('base_events') }}
),

clean as (
    select
        customer_id,
        event_at,
        event_type,
        product_id,
        search_query,
        is_search_query_cut
    from base
    where rejection_reason is null
)

select * from clean
