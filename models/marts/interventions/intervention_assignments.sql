{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    tags=['scoring'],
) }}
{#- Who is in which arm of which campaign: one row per (campaign_id, customer_id), appended by
    the run that first finds the customer eligible (campaign active: start_date <= as_of_date <
    end_date; customer in the campaign's segment, or any segment for '*') and never changed
    afterwards, even when the customer's segment or scores move. The arm is a pure function of
    the campaign id, the customer id and the holdout share (campaign_holdout_draw). -#}

with

as_of as (
    select cutoff_date as as_of_date
    from {{ ref('cutoffs') }}
    where is_scoring_cutoff
),

customer_segments as (
    select
        customer_id,
        as_of_date,
        segment,
        value_tier,
        churn_risk_band,
        predicted_clv,
        churn_probability,
        model_version
    from {{ ref('customer_segments') }}
),

segments_as_of as (
    select
        max(as_of_date) as segments_as_of_date,
        count(*) as customers
    from customer_segments
),

segments_are_current as (
    {#- Assigning from segments of another day would date the assignments wrong. -#}
    select
        case
            when
                segments_as_of.customers = 0
                or segments_as_of.segments_as_of_date = as_of.as_of_date
                then true
            else error(
                'customer_segments is at as_of_date ' || segments_as_of.segments_as_of_date
                || ' but the run is at ' || as_of.as_of_date
                || ': build the scores first (dbt build --select +intervention_assignments).'
            )
        end as is_current
    from segments_as_of
    cross join as_of
),

active_campaigns as (
    select
        campaign_config.campaign_id,
        campaign_config.segment as campaign_segment,
        campaign_config.holdout_share
    from {{ ref('campaign_config') }} as campaign_config
    cross join as_of
    where
        campaign_config.start_date <= as_of.as_of_date
        and as_of.as_of_date < campaign_config.end_date
),

eligible as (
    select
        active_campaigns.campaign_id,
        active_campaigns.holdout_share,
        customer_segments.customer_id,
        customer_segments.as_of_date as assigned_on,
        customer_segments.segment,
        customer_segments.value_tier,
        customer_segments.churn_risk_band,
        customer_segments.predicted_clv,
        customer_segments.churn_probability,
        customer_segments.model_version
    from active_campaigns
    inner join customer_segments
        on
            active_campaigns.campaign_segment = '*'
            or active_campaigns.campaign_segment = customer_segments.segment
    cross join segments_are_current
    where segments_are_current.is_current
),

new_assignments as (
    select eligible.*
    from eligible
    {%- if is_incremental() %}
        left join {{ this }} as assigned
            on
                eligible.campaign_id = assigned.campaign_id
                and eligible.customer_id = assigned.customer_id
        where assigned.customer_id is null
    {%- endif %}
),

final as (
    select
        campaign_id,
        customer_id,
        case
            when {{ campaign_holdout_draw('campaign_id', 'customer_id') }} < holdout_share
                then 'holdout'
            else 'treatment'
        end as arm,
        {{ campaign_holdout_draw('campaign_id', 'customer_id') }} as holdout_draw,
        holdout_share,
        assigned_on,
        segment,
        value_tier,
        churn_risk_band,
        predicted_clv,
        churn_probability,
        model_version
    from new_assignments
)

select * from final
