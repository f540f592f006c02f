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
        frequency,
        orders,
        tenure_days
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

purchase_power as (
    {#- Spend when the customer buys: the mean of the lognormal part of the predicted revenue
        distribution (predicted_clv / purchase_probability), per horizon and per order. Orders
        in the horizon when active: the customer's own order rate over their tenure (at least a
        horizon long, so a new customer's rate is not inflated), at least one order. -#}
    select
        tiered.customer_id,
        case
            when tiered.purchase_probability > 0
                then tiered.predicted_clv / tiered.purchase_probability
            else 0.0
        end as expected_spend_if_active,
        greatest(
            1.0,
            coalesce(customer_features.orders, 0) * {{ setting('horizon_days') }}
            / greatest(coalesce(customer_features.tenure_days, 0), {{ setting('horizon_days') }})
        ) as expected_orders_if_active
    from tiered
    left join customer_features
        on tiered.customer_id = customer_features.customer_id
),

spend_tiers as (
    {#- Quintiles of expected_spend_if_active, ties broken by customer_id (deterministic). -#}
    select
        customer_id,
        expected_spend_if_active,
        expected_spend_if_active / expected_orders_if_active as expected_spend_per_order,
        ntile(5) over (order by expected_spend_if_active, customer_id) as spend_tier
    from purchase_power
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
        spend_tiers.expected_spend_if_active,
        spend_tiers.expected_spend_per_order,
        spend_tiers.spend_tier,
        {{ spend_tier_name('spend_tiers.spend_tier') }} as spend_tier_name,
        {{ discounted_lifetime_value('tiered.predicted_clv', 'tiered.churn_probability') }}
            as lifetime_value,
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
    inner join spend_tiers
        on tiered.customer_id = spend_tiers.customer_id
    left join customer_features
        on tiered.customer_id = customer_features.customer_id
)

select * from final
