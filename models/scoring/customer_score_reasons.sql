{#- The top three reasons behind each customer's churn risk and predicted CLV, as phrases an
    analyst can read ("no purchase for 7 months"), from the driver effects of
    customer_driver_effects. Churn: the drivers that raise churn_probability most (at least
    reason_min_churn_effect), so a customer with fewer risk-raising drivers has fewer churn
    reasons. CLV: the drivers that move predicted_clv most either way (at least
    reason_min_clv_effect), with the direction. Ties go to the driver name. Pure SQL on the
    stored effects: rebuilt every run, cheaply. -#}

with

effects as (
    select
        customer_id,
        as_of_date,
        driver,
        churn_effect,
        clv_effect,
        model_version
    from {{ ref('customer_driver_effects') }}
),

customer_features as (
    select
        customer_id,
        behaviour_text,
        recency_days,
        tenure_days,
        orders,
        frequency,
        net_monetary_total,
        monetary_mean,
        refunds,
        mean_gap_days,
        max_gap_days,
        purchases_last_90d,
        purchases_last_365d,
        returned_orders,
        cancelled_orders,
        cohort_month,
        cohort_repeat_rate,
        revenue_percentile_in_cohort
    from {{ ref('customer_features') }}
),

candidates as (
    select
        customer_id,
        as_of_date,
        'churn' as reason_for,
        driver,
        churn_effect as effect,
        churn_effect as strength,
        'raises churn risk' as direction,
        model_version
    from effects
    where churn_effect >= {{ reason_min_churn_effect() }}
    union all
    select
        customer_id,
        as_of_date,
        'clv' as reason_for,
        driver,
        clv_effect as effect,
        abs(clv_effect) as strength,
        case when clv_effect > 0 then 'raises value' else 'lowers value' end as direction,
        model_version
    from effects
    where abs(clv_effect) >= {{ reason_min_clv_effect() }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id, reason_for order by strength desc, driver asc
        ) as reason_rank
    from candidates
),

final as (
    select
        ranked.customer_id,
        ranked.as_of_date,
        ranked.reason_for,
        ranked.reason_rank,
        ranked.driver,
        {{ reason_phrase('ranked.driver', 'customer_features') }} as phrase,
        ranked.effect,
        ranked.direction,
        ranked.model_version
    from ranked
    left join customer_features
        on ranked.customer_id = customer_features.customer_id
    where ranked.reason_rank <= 3
)

select * from final
