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
{#- Scores every customer at as_of_date in place: the text's embedding from text_embeddings
    (the encoder ran there, once per distinct text) and the features go through the cheap head
    UDF clv_score_embedded(). Incremental: only customers whose inputs (hash of text +
    features) or model version changed, or whose stored score is missing, NaN or infinite,
    are rescored; the others keep their row, scored_at included. Features enter the hash rounded to 6 decimals: parallel float sums
    differ in the last bits from run to run. Before anything is written the artifact is checked
    against the warehouse and the population against the existing scores; a NaN or infinite
    score fails the model (nothing is written). -#}
{%- set model = clv_model_info() -%}
{{ check_clv_model(model) }}
{{ check_scoring_population() }}

with

customer_features as (
    select
        features.customer_id,
        features.cutoff_date as as_of_date,
        features.behaviour_text,
        {{ event_history_hash(model, 'features.customer_id', 'features.cutoff_date') }}
            as event_history_hash,
        {{ model.feature_names | join(',\n        ') }}
    from {{ ref('customer_features') }} as features
),

{%- if is_incremental() %}

    loaded_model as (
        {#- The version as a value from the UDF, never pasted into the SQL text. -#}
        select clv_model_version() as model_version
    ),
{%- endif %}

hashed as (
    select
        *,
        {{ scoring_input_hash(model.feature_names, extra=['event_history_hash']) }} as input_hash
    from customer_features
),

changed as (
    select hashed.*
    from
        hashed
    {%- if is_incremental() %}
        left join {{ this }} as previous
            on hashed.customer_id = previous.customer_id
        where
            previous.customer_id is null
            or previous.input_hash is distinct from hashed.input_hash
            or previous.model_version
            is distinct from (select loaded_model.model_version from loaded_model)
            or not {{ scores_are_finite('previous.') }}
    {%- endif %}
),

to_score as (
    {{ with_embeddings(model, 'changed') }}
),

scored as materialized (
    select
        customer_id,
        as_of_date,
        input_hash,
        clv_score_embedded(
            embedding, {{ clv_features_struct(model.feature_names) }}
        ) as score
    from to_score
),

final as (
    select
        customer_id,
        as_of_date,
        case
            when {{ scores_are_finite('score.') }} then score.predicted_clv
            else error(
                'model ' || score.model_version || ' gave a NaN or infinite score for customer '
                || customer_id || '; nothing was written. Retrain (make train).'
            )
        end as predicted_clv,
        score.churn_probability,
        score.purchase_probability,
        score.clv_p10,
        score.clv_p50,
        score.clv_p90,
        score.model_version,
        input_hash,
        cast(current_timestamp as timestamp) as scored_at
    from scored
)

select * from final
