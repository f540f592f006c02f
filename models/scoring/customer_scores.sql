{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[
        "delete from {{ this }} where customer_id not in
        (select customer_id from {{ ref('customer_features') }})"
    ],
) }}
{#- Scores every customer at as_of_date in place, through the clv_score() UDF. Incremental:
    only customers whose inputs (hash of text + features) or model version changed are
    rescored; the others keep their row, scored_at included. Features enter the hash rounded
    to 6 decimals: parallel float sums differ in the last bits from run to run. -#}
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

hashed as (
    select
        *,
        md5(concat_ws(
            '|',
            behaviour_text,
            {%- for name in model.feature_names %}
                coalesce(cast(round({{ name }}, 6) as varchar), '')
                {{- ',' if not loop.last }}
            {%- endfor %}
        )) as input_hash
    from customer_features
),

to_score as (
    select hashed.*
    from
        hashed
    {%- if is_incremental() %}
        left join {{ this }} as previous
            on hashed.customer_id = previous.customer_id
        where
            previous.customer_id is null
            or previous.input_hash is distinct from hashed.input_hash
            or previous.model_version is distinct from '{{ model.model_version }}'
    {%- endif %}
),

scored as materialized (
    select
        customer_id,
        as_of_date,
        input_hash,
        clv_score(behaviour_text, {{ clv_features_struct(model.feature_names) }}) as score
    from to_score
),

final as (
    select
        customer_id,
        as_of_date,
        score.predicted_clv,
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
