{#- The leak test: fails on every event of customer_events that is not strictly before its
    cutoff (days_before_cutoff <= 0 or null), and on every row that counts fewer events than
    staging holds before the cutoff for that customer's orders alone (an order is an event).
    stg_orders is upstream of customer_events, read by name (no DAG edge, see
    upstream_by_name). -#}
{%- set customer_events = ref('customer_events') -%}

with

events as (
    select
        customer_id,
        cutoff_date,
        n_events,
        unnest(events) as event
    from {{ customer_events }}
),

leaked as (
    select
        customer_id,
        cutoff_date,
        event.event_type,
        event.days_before_cutoff,
        'event at or after the cutoff' as problem
    from events
    where not coalesce(event.days_before_cutoff > 0, false)
),

orders_before as (
    select
        customer_events.customer_id,
        customer_events.cutoff_date,
        customer_events.n_events,
        count(orders.order_id) as orders
    from {{ customer_events }} as customer_events
    left join {{ upstream_by_name(customer_events, 'stg_orders') }} as orders
        on
            customer_events.customer_id = orders.customer_id
            and orders.ordered_at < customer_events.cutoff_date
    group by customer_events.customer_id, customer_events.cutoff_date, customer_events.n_events
),

undercounted as (
    select
        customer_id,
        cutoff_date,
        cast(null as varchar) as event_type,
        cast(null as double) as days_before_cutoff,
        'n_events below the orders before the cutoff, or no order at all' as problem
    from orders_before
    where n_events < orders or orders = 0
)

select * from leaked
union all
select * from undercounted
