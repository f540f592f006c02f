-- Predicted future value per acquisition cohort next to what the cohort already spent.
select
    cohorts.cohort_month,
    count(*) as customers,
    round(sum(scores.predicted_clv), 2) as predicted_clv,
    round(sum(features.monetary_total), 2) as historical_revenue,
    round(avg(scores.churn_probability), 3) as mean_churn_probability
from {{ ref('customer_scores') }} as scores
inner join {{ ref('customer_features') }} as features
    on scores.customer_id = features.customer_id
inner join {{ ref('customer_cohorts') }} as cohorts
    on
        features.customer_id = cohorts.customer_id
        and features.cutoff_date = cohorts.cutoff_date
group by cohorts.cohort_month
order by cohorts.cohort_month
