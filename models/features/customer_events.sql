{#- Every customer's events before each cutoff, at their own grain: one row per (customer,
    cutoff) of customer_features and training_examples, with the last event_sequence_length
    events strictly before the cutoff, oldest first. Each customer's history is listed once,
    sorted by (time, type, key); a cutoff takes the prefix before it (a count over the sorted
    times) and keeps its last K, so no per-cutoff sort or join of events is needed. -#}
{%- set sequence_length = setting('event_sequence_length') -%}
{%- set event_order = 'event_at, event_type, event_key' -%}

with

population as (
    select
        customer_id,
        cutoff_date
    from {{ ref('customer_features') }}
    union
    select
        customer_id,
        cutoff_date
    from {{ ref('training_examples') }}
),

latest_cutoff as (
    select max(cutoff_date) as cutoff_date from {{ ref('cutoffs') }}
),

sources as (
    {{ event_text_sources('(select latest_cutoff.cutoff_date from latest_cutoff)') }}
),

texts as (
    {#- The ids of event_texts (same macro, same cutoff); the semi-join makes a dangling id
        impossible and builds event_texts first. -#}
    select
        sources.text_kind,
        sources.source_key,
        {{ event_text_id('sources.text_kind', 'sources.source_text') }} as text_id
    from sources
    where {{ event_text_id('sources.text_kind', 'sources.source_text') }} in (
        select event_texts.text_id from {{ ref('event_texts') }} as event_texts
    )
),

product_texts as (
    select
        source_key as product_id,
        text_id
    from texts
    where text_kind = 'product'
),

order_lines as (
    {#- An order's products with text, weighted by line value (quantity x unit price; the
        quantity when that is 0). Products sharing one text are summed. -#}
    select
        order_items.order_id,
        product_texts.text_id,
        sum(case
            when order_items.quantity * order_items.unit_price > 0
                then order_items.quantity * order_items.unit_price
            else coalesce(nullif(order_items.quantity, 0), 1)
        end) as weight
    from {{ ref('stg_order_items') }} as order_items
    inner join product_texts
        on order_items.product_id = product_texts.product_id
    group by order_items.order_id, product_texts.text_id
),

order_texts as (
    select
        order_id,
        list(text_id order by weight desc, text_id asc) as text_ids,
        list(cast(weight as double) order by weight desc, text_id asc) as text_weights
    from order_lines
    group by order_id
),

order_quantities as (
    select
        order_id,
        sum(quantity) as quantity
    from {{ ref('stg_order_items') }}
    group by order_id
),

order_events as (
    select
        orders.customer_id,
        orders.ordered_at as event_at,
        case orders.status
            when 'completed' then 'order'
            when 'returned' then 'return'
            else 'cancel'
        end as event_type,
        orders.order_id as event_key,
        cast(orders.order_total as double) as amount,
        cast(order_quantities.quantity as double) as quantity,
        coalesce(order_texts.text_ids, cast([] as varchar[])) as text_ids,
        coalesce(order_texts.text_weights, cast([] as double[])) as text_weights
    from {{ ref('stg_orders') }} as orders
    left join order_quantities
        on orders.order_id = order_quantities.order_id
    left join order_texts
        on orders.order_id = order_texts.order_id
),

refund_events as (
    select
        customer_id,
        refunded_at as event_at,
        'refund' as event_type,
        refund_id as event_key,
        cast(amount as double) as amount,
        cast(null as double) as quantity,
        cast([] as varchar[]) as text_ids,
        cast([] as double[]) as text_weights
    from {{ ref('stg_refunds') }}
),

review_events as (
    select
        reviews.customer_id,
        reviews.reviewed_at as event_at,
        'review' as event_type,
        coalesce(reviews.product_id, '') as event_key,
        cast(null as double) as amount,
        cast(null as double) as quantity,
        list_filter(
            [review_texts.text_id, product_texts.text_id], lambda text_id: text_id is not null
        ) as text_ids,
        cast(null as double[]) as text_weights
    from {{ ref('stg_reviews') }} as reviews
    left join texts as review_texts
        on
            review_texts.text_kind = 'review'
            and reviews.review_text = review_texts.source_key
    left join product_texts
        on reviews.product_id = product_texts.product_id
),

browsing_events as (
    select
        events.customer_id,
        events.event_at,
        case
            when events.event_type in {{ view_event_types() }} then 'view'
            when events.event_type in {{ cart_event_types() }} then 'add_to_cart'
            when events.event_type in {{ campaign_event_types() }} then 'campaign'
            when events.event_type in {{ coupon_event_types() }} then 'coupon'
            else events.event_type
        end as event_type,
        coalesce(events.product_id, '') || '|' || coalesce(events.search_query, '') as event_key,
        cast(null as double) as amount,
        cast(null as double) as quantity,
        list_filter(
            [search_texts.text_id, product_texts.text_id], lambda text_id: text_id is not null
        ) as text_ids,
        cast(null as double[]) as text_weights
    from {{ ref('stg_events') }} as events
    left join texts as search_texts
        on
            search_texts.text_kind = 'search'
            and events.search_query = search_texts.source_key
    left join product_texts
        on events.product_id = product_texts.product_id
),

all_events as (
    select
        customer_id,
        event_at,
        event_type,
        event_key,
        amount,
        quantity,
        text_ids,
        coalesce(
            text_weights, list_transform(text_ids, lambda text_id: cast(1 as double))
        ) as text_weights
    from (
        select * from order_events
        union all
        select * from refund_events
        union all
        select * from review_events
        union all
        select * from browsing_events
    ) as unioned
    where event_at < (select latest_cutoff.cutoff_date from latest_cutoff)
),

sequenced as (
    select
        *,
        date_diff(
            'microsecond', lag(event_at) over customer_history, event_at
        ) / 86400000000.0 as gap_days
    from all_events
    window customer_history as (partition by customer_id order by {{ event_order }})
),

histories as (
    select
        customer_id,
        list(event_at order by {{ event_order }}) as event_times,
        list(struct_pack(
            event_at,
            event_type,
            gap_days,
            amount,
            quantity,
            text_ids,
            text_weights
        ) order by {{ event_order }}) as history
    from sequenced
    group by customer_id
),

counted as (
    select
        population.customer_id,
        population.cutoff_date,
        histories.history,
        len(list_filter(
            histories.event_times, lambda event_at: event_at < population.cutoff_date
        )) as n_events
    from population
    left join histories
        on population.customer_id = histories.customer_id
),

final as (
    select
        customer_id,
        cutoff_date,
        cast(coalesce(n_events, 0) as bigint) as n_events,
        list_transform(
            history[greatest(n_events - {{ sequence_length }}, 0) + 1:n_events],
            lambda event: struct_pack(
                event_type := event.event_type,
                days_before_cutoff := date_diff(
                    'microsecond', event.event_at, cast(cutoff_date as timestamp)
                ) / 86400000000.0,
                gap_days := event.gap_days,
                amount := event.amount,
                quantity := event.quantity,
                text_ids := event.text_ids,
                text_weights := event.text_weights
            )
        ) as events
    from counted
)

select * from final
