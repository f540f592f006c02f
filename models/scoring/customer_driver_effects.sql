{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[
        "delete from {{ this }} where customer_id not in
        (select customer_id from {{ ref('customer_features') }})
        and exists (select 1 from {{ ref('customer_features') }})"
    ],
) }}
-- depends_on: {{ ref('text_embeddings') }}
-- depends_on: {{ ref('customer_events') }}
-- depends_on: {{ ref('event_text_vectors') }}
-- depends_on: {{ ref('customer_scores') }}
{#- The effect of every driver (python_udfs.reasons.DRIVER_FEATURES, plus behaviour_text for a
    text model) on each customer's churn_probability and predicted_clv, by occlusion: the head
    UDF clv_attributions() reruns the head once per driver with that driver's inputs at the
    training mean (the text at the empty text's embedding). Incremental like customer_scores,
    on the same input hash: only customers whose inputs or model version changed are
    attributed again. It runs after customer_scores, whose checks (model vs warehouse,
    population) run first. -#}
{%- set model = clv_model_info() -%}
{{ check_clv_model(model) }}

with

customer_features as (
    select
        customer_id,
        cutoff_date as as_of_date,
        behaviour_text,
        {{ model.feature_names | join(',\n        ') }}
    from {{ ref('customer_features') }}
),

loaded_model as (
    {#- The version as a value from the UDF, never pasted into the SQL text. -#}
    select clv_model_version() as model_version
),

hashed as (
    select
        *,
        {{ scoring_input_hash(model.feature_names) }} as input_hash
    from customer_features
),

{%- if is_incremental() %}

    previous as (
        select distinct
            customer_id,
            input_hash,
            model_version
        from {{ this }}
    ),
{%- endif %}

changed as (
    select hashed.*
    from
        hashed
    {%- if is_incremental() %}
        left join previous
            on hashed.customer_id = previous.customer_id
        where
            previous.customer_id is null
            or previous.input_hash is distinct from hashed.input_hash
            or previous.model_version
            is distinct from (select loaded_model.model_version from loaded_model)
    {%- endif %}
),

to_attribute as (
    {{ with_embeddings(model, 'changed') }}
),

attributed as materialized (
    select
        customer_id,
        as_of_date,
        input_hash,
        clv_attributions(
            embedding, {{ clv_features_struct(model.feature_names) }}
        ) as effects
    from to_attribute
),

drivers as (
    select
        customer_id,
        as_of_date,
        input_hash,
        unnest(effects) as effect
    from attributed
),

final as (
    select
        customer_id,
        as_of_date,
        effect.driver,
        effect.churn_effect,
        effect.clv_effect,
        (select loaded_model.model_version from loaded_model) as model_version,
        input_hash,
        cast(current_timestamp as timestamp) as attributed_at
    from drivers
)

select * from final
