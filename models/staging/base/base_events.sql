{#- Every raw event row, typed, with the reason it is quarantined (null when clean). -#}
with

raw_events as (
    {{ raw_table('events') }}
),

{{ known_customers_ctes() }},

typed as (
    select {{ typed_columns('events') }}
    from raw_events
),

checked as (
    select
        typed.*,
        case
            when typed.customer_id is null then 'null_customer_id'
            {{ timestamp_checks('event_at') }}
            when typed.event_type is null then 'null_event_type'
            {{ unknown_customer_check() }}
        end as invalid_reason
    from typed
    {{ join_known_customers() }}
),

deduplicated as (
    select
        *,
        {{ rejection_reason(
            ['customer_id', 'event_at', 'event_type', 'product_id', 'search_query'],
            [],
            'duplicate_event',
        ) }}
    from checked
)

select
    customer_id,
    event_at,
    event_type,
    product_id,
    search_query,
    is_search_query_cut,
    rejection_reason,
    {{ rejected_raw_columns('events') }}
from deduplicated
