{{ config(severity='error') }}
{#- Fails (error) before customer_scores and the marts are rebuilt when customer_features has
    no customer at as_of_date, or fewer than min_population_share (setting, env
    CLV_MIN_POPULATION_SHARE) of the customers already in customer_scores: an export whose
    orders were all rejected, a header-only file or a truncated export. The existing scores
    are looked up with adapter.get_relation, so the test adds no DAG edge to customer_scores
    and runs right after customer_features. The returned row's `problem` names cause and fix. -#}
{%- set features = ref('customer_features') -%}
{%- set scores = adapter.get_relation(
    database=features.database, schema=features.schema, identifier='customer_scores')
    if execute else none -%}

with

population as (
    select count(*) as customers from {{ features }}
),

previous as (
    {%- if scores %}
        select count(*) as customers from {{ scores }}
    {%- else %}
        select 0 as customers
    {%- endif %}
),

checked as (
    select
        population.customers as customers_at_as_of,
        previous.customers as customers_scored_before,
        case
            when population.customers = 0
                then 'customer_features is empty: every order was rejected (see '
                || 'stg_orders_rejected.rejection_reason) or the orders file at '
                || {{ sql_string(setting('raw_path')) }} || ' has no rows. Fix the export '
                || 'or CLV_RAW_PATH; customer_scores was not overwritten.'
            when population.customers < {{ setting('min_population_share') }} * previous.customers
                then 'the scoring population collapsed to ' || population.customers
                || ' customers from ' || previous.customers || ' scored before. Check the '
                || 'export and stg_orders_rejected; if the shrink is real, rerun with '
                || 'CLV_MIN_POPULATION_SHARE=0.'
        end as problem
    from population
    cross join previous
)

select * from checked
where problem is not null
