{{ config(
    materialized='incremental',
    unique_key=['customer_id', 'cutoff_date'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[
        "delete from {{ this }} as backtest where backtest.cutoff_date is distinct from
        (select max(cutoff_date) from {{ ref('training_examples') }})
        or not exists (select 1 from {{ ref('training_examples') }} as examples
        where examples.customer_id = backtest.customer_id
        and examples.cutoff_date = backtest.cutoff_date)"
    ],
) }}
-- depends_on: {{ ref('text_embeddings') }}
-- depends_on: {{ ref('customer_events') }}
-- depends_on: {{ ref('event_text_vectors') }}
{#- The model's predictions at the latest training cutoff, next to what happened after it:
    the input of clv_calibration. Customers the model was trained on are included. Scored like
    customer_scores (embeddings from text_embeddings, head UDF) and incremental the same way:
    a row is rescored only when its inputs, the model or the latest cutoff change, so a daily
    run with the same model and cutoff rescores nothing. -#}
{%- set model = clv_model_info() -%}
{{ check_clv_model(model) }}

with

latest_cutoff as (
    select max(cutoff_date) as cutoff_date from {{ ref('training_examples') }}
),

training_examples as (
    select
        training_examples.*,
        {{ scoring_input_hash(
            model.feature_names, 'training_examples.', ['future_revenue', 'churned']
        ) }} as input_hash
    from {{ ref('training_examples') }} as training_examples
    inner join latest_cutoff
        on training_examples.cutoff_date = latest_cutoff.cutoff_date
),

changed as (
    select training_examples.*
    from training_examples
    {%- if is_incremental() %}
        left join {{ this }} as previous
            on
                training_examples.customer_id = previous.customer_id
                and training_examples.cutoff_date = previous.cutoff_date
        where
            previous.customer_id is null
            or previous.input_hash is distinct from training_examples.input_hash
            or previous.model_version is distinct from (select clv_model_version())
    {%- endif %}
),

to_score as (
    {{ with_embeddings(model, 'changed', 'cutoff_date') }}
),

scored as materialized (
    select
        customer_id,
        cutoff_date,
        future_revenue,
        churned,
        input_hash,
        clv_score_embedded(
            embedding, {{ clv_features_struct(model.feature_names) }}
        ) as score
    from to_score
),

final as (
    select
        customer_id,
        cutoff_date,
        score.predicted_clv,
        score.churn_probability,
        future_revenue as actual_revenue,
        churned as actual_churned,
        score.model_version,
        input_hash
    from scored
    {#- A NaN or infinite score fails the model instead of reaching clv_calibration. #}
    where
        case
            when isfinite(score.predicted_clv) and isfinite(score.churn_probability) then true
            else error(
                'model ' || score.model_version || ' gave a NaN or infinite backtest score for '
                || 'customer ' || customer_id || '. Retrain (make train).'
            )
        end
)

select * from final
