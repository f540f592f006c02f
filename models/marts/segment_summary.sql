with

customer_segments as (
    select
        segment,
        recommended_action,
        value_tier,
        churn_risk_band,
        predicted_clv,
        churn_probability,
        lifetime_value,
        historical_revenue
    from {{ ref('customer_segments') }}
),

summary as (
    select
        segment,
        recommended_action,
        value_tier,
        churn_risk_band,
        count(*) as customers,
        count(*) / sum(count(*)) over () as share_of_customers,
        sum(predicted_clv) as total_predicted_clv,
        sum(predicted_clv) / nullif(sum(sum(predicted_clv)) over (), 0)
            as share_of_predicted_clv,
        avg(predicted_clv) as mean_predicted_clv,
        sum(lifetime_value) as total_lifetime_value,
        avg(churn_probability) as mean_churn_probability,
        sum(historical_revenue) as historical_revenue
    from customer_segments
    group by segment, recommended_action, value_tier, churn_risk_band
)

select * from summary
