{#- Fails on every text id of customer_events that event_texts does not hold (a dangling id
    would have no embedding). -#}
with

text_ids as (
    select distinct unnest(event.text_ids) as text_id
    from (
        select unnest(events) as event
        from {{ ref('customer_events') }}
    ) as events
),

dangling as (
    select text_ids.text_id
    from text_ids
    where text_ids.text_id not in (select event_texts.text_id from {{ ref('event_texts') }} as event_texts)
)

select * from dangling
