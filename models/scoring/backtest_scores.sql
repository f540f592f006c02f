{#- The model's predictions at the latest training cutoff, next to what happened after it:
    the input of clv_calibration. Customers the model was trained on are included. -#}
{%- set model = clv_model_info() -%}
{{ check_clv_model(model) }}

with

latest_cutoff as (
    select max(cutoff_date) as cutoff_date from {{ ref('training_examples') }}
),

training_examples as (
    select training_examples.*
    from {{ ref('training_examples') }} as training_examples
    inner join latest_cutoff
        on training_examples.cutoff_date = latest_cutoff.cutoff_date
),

scored as materialized (
    select
        customer_id,
        cutoff_date,
        future_revenue,
        churned,
        clv_score(behaviour_text, {{ clv_features_struct(model.feature_names) }}) as score
    from training_examples
),

final as (
    select
        customer_id,
        cutoff_date,
        score.predicted_clv,
        score.churn_probability,
        future_revenue as actual_revenue,
        churned as actual_churned,
        score.model_version
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
