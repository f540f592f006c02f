with

raw_events as (
    {{ raw_table(
        'events',
        ['customer_id', 'event_at', 'event_type', 'product_id', 'search_query'],
    ) }}
),

customers as (
    {#- Every identified customer, even one whose own row is quarantined (e.g. a bad
        signed_up_at): that must not quarantine their whole history. -#}
    select distinct customer_id from {{ ref('int_customers_validated') }}
    where customer_id is not null
),

customers_known as (
    select count(*) > 0 as has_customers from customers
),

typed as (
    select
        {{ clean_id('customer_id') }} as customer_id,
        try_cast(event_at as timestamp) as event_at,
        lower({{ clean_id('event_type') }}) as event_type,
        {{ clean_id('product_id') }} as product_id,
        {{ clean_id('search_query') }} as search_query,
        {{ keep_raw('customer_id') }},
        {{ keep_raw('event_at') }},
        {{ keep_raw('event_type') }},
        {{ keep_raw('product_id') }},
        {{ keep_raw('search_query') }},
        {{ is_unparseable('event_at', 'timestamp') }} as is_event_at_unparseable
    from raw_events
),

checked as (
    select
        typed.*,
        case
            when typed.customer_id is null then 'null_customer_id'
            when typed.is_event_at_unparseable then 'unparseable_event_at'
            when typed.event_at is null then 'null_event_at'
            when {{ is_out_of_range_timestamp('typed.event_at') }} then 'out_of_range_event_at'
            when typed.event_at > {{ max_valid_timestamp() }} then 'future_event_at'
            when typed.event_type is null then 'null_event_type'
            when customers_known.has_customers and customers.customer_id is null
                then 'unknown_customer'
        end as invalid_reason
    from typed
    cross join customers_known
    left join customers
        on typed.customer_id = customers.customer_id
),

deduplicated as (
    select
        *,
        coalesce(
            invalid_reason,
            case
                when
                    row_number() over (
                        partition by
                            invalid_reason is null,
                            customer_id,
                            event_at,
                            event_type,
                            product_id,
                            search_query
                    ) > 1
                    then 'duplicate_event'
            end
        ) as rejection_reason
    from checked
)

select
    customer_id,
    event_at,
    event_type,
    product_id,
    search_query,
    rejection_reason,
    {{ rejected_raw_columns(
        ['customer_id', 'event_at', 'event_type', 'product_id', 'search_query']
    ) }}
from deduplicated
