{#- Fails on every text id of customer_events that event_texts does not hold (a dangling id
    would have no embedding). event_texts is upstream of customer_events, read by name (no
    DAG edge, see upstream_by_name). -#}
{%- set customer_events = ref('customer_events') -%}

with

text_ids as (
    select distinct unnest(event.text_ids) as text_id
    from (
        select unnest(events) as event
        from {{ customer_events }}
    ) as events
),

dangling as (
    select text_ids.text_id
    from text_ids
    where text_ids.text_id not in (
        select event_texts.text_id
        from {{ upstream_by_name(customer_events, 'event_texts') }} as event_texts
    )
)

select * from dangling
