{#- Fails on every (customer, cutoff) that is in customer_features or training_examples but
    not in customer_events, or the other way round: the sequence model sees exactly the
    population the feature model sees. The feature tables are upstream of customer_events and
    read by name (no DAG edge, see upstream_by_name). -#}
{%- set customer_events = ref('customer_events') -%}

with

population as (
    select
        customer_id,
        cutoff_date
    from {{ upstream_by_name(customer_events, 'customer_features') }}
    union
    select
        customer_id,
        cutoff_date
    from {{ upstream_by_name(customer_events, 'training_examples') }}
),

events as (
    select
        customer_id,
        cutoff_date
    from {{ customer_events }}
),

mismatched as (
    select
        coalesce(population.customer_id, events.customer_id) as customer_id,
        coalesce(population.cutoff_date, events.cutoff_date) as cutoff_date,
        case
            when events.customer_id is null then 'missing from customer_events'
            else 'not in customer_features or training_examples'
        end as problem
    from population
    full outer join events
        on
            population.customer_id = events.customer_id
            and population.cutoff_date = events.cutoff_date
    where population.customer_id is null or events.customer_id is null
)

select * from mismatched
