{{ config(tags=['scoring']) }}
{#- Did the campaign work? One row per campaign: retention and revenue of the treatment arm vs
    the holdout arm, each customer measured over [assigned_on, assigned_on + measurement_days)
    cut at as_of_date (point in time: only orders and refunds before as_of_date count), and the
    difference treatment - holdout with a 95% confidence interval. `status` says how much of
    the windows has been observed; nothing is reported as measured before a day has passed. -#}

with

as_of as (
    select cutoff_date as as_of_date
    from {{ ref('cutoffs') }}
    where is_scoring_cutoff
),

campaigns as (
    select
        campaign_id,
        segment,
        campaign_action,
        holdout_share,
        start_date,
        end_date,
        measurement_days
    from {{ ref('campaign_config') }}
),

orders as (
    select
        customer_id,
        ordered_at,
        net_revenue,
        is_purchase
    from {{ ref('stg_orders') }}
),

refunds as (
    select
        customer_id,
        refunded_at,
        effective_amount
    from {{ ref('stg_refunds') }}
),

windows as (
    {#- Each assigned customer's outcome window, observed up to as_of_date. -#}
    select
        assignments.campaign_id,
        assignments.customer_id,
        assignments.arm,
        assignments.assigned_on,
        cast(assignments.assigned_on as timestamp) as window_start,
        cast(
            least(assignments.assigned_on + campaigns.measurement_days, as_of.as_of_date)
            as timestamp
        ) as observed_end,
        least(
            campaigns.measurement_days, as_of.as_of_date - assignments.assigned_on
        ) as days_observed,
        assignments.assigned_on + campaigns.measurement_days <= as_of.as_of_date
            as is_fully_observed
    from {{ ref('intervention_assignments') }} as assignments
    inner join campaigns
        on assignments.campaign_id = campaigns.campaign_id
    cross join as_of
    {#- An assignment after as_of_date (a rerun at an earlier day) is not observed yet. #}
    where assignments.assigned_on <= as_of.as_of_date
),

window_orders as (
    {#- As customer_labels counts them: completed orders are purchases, returned and cancelled
        ones are no purchase and net 0 revenue. -#}
    select
        windows.campaign_id,
        windows.customer_id,
        count(*) filter (where orders.is_purchase) as purchases,
        sum(orders.net_revenue) as revenue
    from windows
    inner join orders
        on
            windows.customer_id = orders.customer_id
            and windows.window_start <= orders.ordered_at
            and windows.observed_end > orders.ordered_at
    group by windows.campaign_id, windows.customer_id
),

window_refunds as (
    {#- Refunds issued in the window, whatever the order they refund (as customer_labels). -#}
    select
        windows.campaign_id,
        windows.customer_id,
        sum(refunds.effective_amount) as refunded_amount
    from windows
    inner join refunds
        on
            windows.customer_id = refunds.customer_id
            and windows.window_start <= refunds.refunded_at
            and windows.observed_end > refunds.refunded_at
    group by windows.campaign_id, windows.customer_id
),

customer_outcomes as (
    select
        windows.campaign_id,
        windows.arm,
        windows.assigned_on,
        windows.days_observed,
        windows.is_fully_observed,
        coalesce(window_orders.purchases, 0) > 0 as is_retained,
        {#- Net of the refunds issued in the window, floored at 0 (customer_labels). -#}
        greatest(
            round(
                coalesce(window_orders.revenue, 0)
                - coalesce(window_refunds.refunded_amount, 0),
                2
            ),
            0
        ) as revenue
    from windows
    left join window_orders
        on
            windows.campaign_id = window_orders.campaign_id
            and windows.customer_id = window_orders.customer_id
    left join window_refunds
        on
            windows.campaign_id = window_refunds.campaign_id
            and windows.customer_id = window_refunds.customer_id
),

campaign_windows as (
    select
        campaign_id,
        min(assigned_on) as first_assigned_on,
        max(assigned_on) as last_assigned_on,
        max(days_observed) as days_observed,
        count(*) filter (where is_fully_observed) as customers_fully_observed
    from customer_outcomes
    group by campaign_id
),

arms as (
    select
        campaign_id,
        arm,
        count(*) as customers,
        count(*) filter (where is_retained) as retained,
        avg(cast(is_retained as integer)) as retention_rate,
        avg(revenue) as revenue_per_customer,
        var_samp(revenue) as revenue_variance
    from customer_outcomes
    group by campaign_id, arm
),

compared as (
    select
        campaigns.*,
        as_of.as_of_date,
        campaign_windows.first_assigned_on,
        campaign_windows.last_assigned_on,
        cast(coalesce(campaign_windows.days_observed, 0) as integer) as days_observed,
        coalesce(campaign_windows.customers_fully_observed, 0) as customers_fully_observed,
        coalesce(treatment.customers, 0) as treatment_customers,
        coalesce(holdout.customers, 0) as holdout_customers,
        treatment.retained as treatment_retained,
        holdout.retained as holdout_retained,
        treatment.retention_rate as treatment_retention_rate,
        holdout.retention_rate as holdout_retention_rate,
        treatment.revenue_per_customer as treatment_revenue_per_customer,
        holdout.revenue_per_customer as holdout_revenue_per_customer,
        {#- Standard errors of the differences: difference of proportions (normal) and of
            means with unequal variances (Welch). -#}
        sqrt(
            treatment.retention_rate * (1 - treatment.retention_rate) / treatment.customers
            + holdout.retention_rate * (1 - holdout.retention_rate) / holdout.customers
        ) as retention_se,
        treatment.revenue_variance / treatment.customers as treatment_mean_variance,
        holdout.revenue_variance / holdout.customers as holdout_mean_variance,
        coalesce(treatment.customers, 0) >= {{ min_customers_per_arm() }}
        and coalesce(holdout.customers, 0) >= {{ min_customers_per_arm() }} as has_interval
    from campaigns
    cross join as_of
    left join campaign_windows
        on campaigns.campaign_id = campaign_windows.campaign_id
    left join arms as treatment
        on campaigns.campaign_id = treatment.campaign_id and treatment.arm = 'treatment'
    left join arms as holdout
        on campaigns.campaign_id = holdout.campaign_id and holdout.arm = 'holdout'
),

with_status as (
    select
        *,
        case
            when treatment_customers + holdout_customers = 0 then 'no_customers'
            when days_observed = 0 then 'no_data_yet'
            when
                as_of_date >= end_date
                and customers_fully_observed = treatment_customers + holdout_customers
                then 'complete'
            else 'measuring'
        end as status,
        sqrt(treatment_mean_variance + holdout_mean_variance) as revenue_se,
        {#- Welch-Satterthwaite degrees of freedom (null when both variances are 0). -#}
        (treatment_mean_variance + holdout_mean_variance) ^ 2
        / nullif(
            treatment_mean_variance ^ 2 / (treatment_customers - 1)
            + holdout_mean_variance ^ 2 / (holdout_customers - 1),
            0
        ) as revenue_df
    from compared
),

measured as (
    {#- Outcomes only once something was observed: no zeros that look like results. -#}
    select
        *,
        status in ('measuring', 'complete') as is_measured,
        status in ('measuring', 'complete') and has_interval as is_interval
    from with_status
),

final as (
    select
        campaign_id,
        segment,
        campaign_action,
        holdout_share,
        start_date,
        end_date,
        measurement_days,
        as_of_date,
        status,
        first_assigned_on,
        last_assigned_on,
        days_observed,
        customers_fully_observed,
        treatment_customers,
        holdout_customers,
        case when is_measured then treatment_retained end as treatment_retained,
        case when is_measured then holdout_retained end as holdout_retained,
        case
            when is_measured then round(treatment_retention_rate, 6)
        end as treatment_retention_rate,
        case
            when is_measured then round(holdout_retention_rate, 6)
        end as holdout_retention_rate,
        case
            when is_measured
                then round(treatment_retention_rate - holdout_retention_rate, 6)
        end as retention_difference,
        case
            when is_interval
                then round(
                    treatment_retention_rate - holdout_retention_rate
                    - {{ normal_quantile_975() }} * retention_se,
                    6
                )
        end as retention_difference_ci_low,
        case
            when is_interval
                then round(
                    treatment_retention_rate - holdout_retention_rate
                    + {{ normal_quantile_975() }} * retention_se,
                    6
                )
        end as retention_difference_ci_high,
        case
            when is_measured then round(treatment_revenue_per_customer, 6)
        end as treatment_revenue_per_customer,
        case
            when is_measured then round(holdout_revenue_per_customer, 6)
        end as holdout_revenue_per_customer,
        case
            when is_measured
                then round(treatment_revenue_per_customer - holdout_revenue_per_customer, 6)
        end as revenue_difference,
        case
            when is_interval
                then round(
                    treatment_revenue_per_customer - holdout_revenue_per_customer
                    - coalesce({{ t_quantile_975('revenue_df') }}, 0) * revenue_se,
                    6
                )
        end as revenue_difference_ci_low,
        case
            when is_interval
                then round(
                    treatment_revenue_per_customer - holdout_revenue_per_customer
                    + coalesce({{ t_quantile_975('revenue_df') }}, 0) * revenue_se,
                    6
                )
        end as revenue_difference_ci_high
    from measured
)

select * from final
