-- The most valuable customers the model expects to lose: who to call first.
select
    customer_id,
    segment,
    recommended_action,
    round(predicted_clv, 2) as predicted_clv,
    round(churn_probability, 3) as churn_probability,
    rfm_segment,
    lifecycle_stage
from {{ ref('customer_segments') }}
where churn_risk_band = 'high'
order by predicted_clv * churn_probability desc
limit 50
