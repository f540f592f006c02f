{{ config(tags=['scoring']) }}
{#- What marketers export: the treatment arm of every active campaign (start_date <=
    as_of_date < end_date), with the action to take and the customer's segment and scores
    at assignment. Holdout customers are never listed: contacting them would spoil the
    measurement. -#}

with

as_of as (
    select cutoff_date as as_of_date
    from {{ ref('cutoffs') }}
    where is_scoring_cutoff
),

active_campaigns as (
    select
        campaign_config.campaign_id,
        campaign_config.campaign_action,
        campaign_config.end_date
    from {{ ref('campaign_config') }} as campaign_config
    cross join as_of
    where
        campaign_config.start_date <= as_of.as_of_date
        and as_of.as_of_date < campaign_config.end_date
),

assignments as (
    select
        campaign_id,
        customer_id,
        assigned_on,
        segment,
        predicted_clv,
        churn_probability
    from {{ ref('intervention_assignments') }}
    where arm = 'treatment'
),

final as (
    select
        active_campaigns.campaign_id,
        active_campaigns.campaign_action,
        assignments.customer_id,
        assignments.segment,
        assignments.predicted_clv,
        assignments.churn_probability,
        assignments.assigned_on,
        assignments.assigned_on = as_of.as_of_date as is_new,
        active_campaigns.end_date as campaign_end_date,
        as_of.as_of_date
    from active_campaigns
    inner join assignments
        on active_campaigns.campaign_id = assignments.campaign_id
    cross join as_of
    where assignments.assigned_on <= as_of.as_of_date
)

select * from final
