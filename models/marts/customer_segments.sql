with

customer_scores as (
    select
        customer_id,
        as_of_date,
        predicted_clv,
        churn_probability,
        purchase_probability,
        clv_p10,
        clv_p90,
        model_version,
        scored_at
    from {{ ref('customer_scores') }}
),

customer_features as (
    select
        customer_id,
        rfm_segment,
        lifecycle_stage,
        monetary_total,
        recency_days,
        frequency
    from {{ ref('customer_features') }}
),

segment_actions as (
    select
        value_tier,
        churn_risk_band,
        segment,
        recommended_action,
        action_description
    from {{ ref('segment_actions') }}
),

tiered as (
    select
        *,
        case
            when
                percent_rank() over (order by predicted_clv)
                >= {{ setting('value_tier_high_share') }}
                then 'high'
            when
                percent_rank() over (order by predicted_clv)
                >= {{ setting('value_tier_low_share') }}
                then 'medium'
            else 'low'
        end as value_tier,
        case
            when churn_probability >= {{ setting('churn_risk_high') }} then 'high'
            when churn_probability >= {{ setting('churn_risk_medium') }} then 'medium'
            else 'low'
        end as churn_risk_band
    from customer_scores
),

final as (
    select
        tiered.customer_id,
        tiered.as_of_date,
        segment_actions.segment,
        segment_actions.recommended_action,
        segment_actions.action_description,
        tiered.value_tier,
        tiered.churn_risk_band,
        tiered.predicted_clv,
        tiered.churn_probability,
        tiered.purchase_probability,
        tiered.clv_p10,
        tiered.clv_p90,
        customer_features.rfm_segment,
        customer_features.lifecycle_stage,
        customer_features.monetary_total as historical_revenue,
        customer_features.recency_days,
        customer_features.frequency,
        tiered.model_version,
        tiered.scored_at
    from tiered
    inner join segment_actions
        on
            tiered.value_tier = segment_actions.value_tier
            and tiered.churn_risk_band = segment_actions.churn_risk_band
    left join customer_features
        on tiered.customer_id = customer_features.customer_id
)

select * from final
