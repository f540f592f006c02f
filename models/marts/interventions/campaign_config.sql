{{ config(tags=['scoring']) }}
-- depends_on: {{ ref('campaigns') }}
{#- The campaigns in force, parsed and checked: <raw_path>/campaigns.<raw_format> when the shop
    keeps its campaigns with its raw export, else the seed campaigns. A bad row stops the build
    here, before any assignment, with every problem of every row and how to fix it. -#}
{%- set from_file = campaigns_file_exists() %}
{%- set origin = 'campaigns file ' ~ campaigns_file_path() if from_file else 'seed campaigns' %}

with

source_rows as (
    select
        cast(campaign_id as varchar) as campaign_id,
        cast(segment as varchar) as segment,
        cast(campaign_action as varchar) as campaign_action,
        cast(holdout_share as varchar) as holdout_share,
        cast(start_date as varchar) as start_date,
        cast(end_date as varchar) as end_date,
        cast(measurement_days as varchar) as measurement_days
    {%- if from_file %}
    from {{ campaigns_file_reader() }}
    {%- else %}
        from {{ ref('campaigns') }}
    {%- endif %}
),

segments as (
    select segment from {{ ref('segment_actions') }}
),

known_segments as (
    select string_agg(segment, ', ' order by segment) as segment_list from segments
),

parsed as (
    select
        row_number() over () as row_position,
        trim(campaign_id) as campaign_id,
        trim(segment) as segment,
        nullif(trim(campaign_action), '') as campaign_action,
        holdout_share as holdout_share_text,
        start_date as start_date_text,
        end_date as end_date_text,
        measurement_days as measurement_days_text,
        try_cast(trim(holdout_share) as double) as holdout_share,
        try_cast(trim(start_date) as date) as start_date,
        try_cast(trim(end_date) as date) as end_date,
        try_cast(trim(measurement_days) as integer) as measurement_days
    from source_rows
),

checked as (
    select
        parsed.*,
        count(*) over (partition by parsed.campaign_id) as id_count,
        list_filter([
            case
                when
                    not coalesce(
                        regexp_full_match(parsed.campaign_id, '[a-z0-9][a-z0-9_-]{0,63}'), false
                    )
                    then
                        'campaign_id must be 1-64 lower-case letters, digits, _ or -, starting'
                        || ' with a letter or digit'
            end,
            case
                when count(*) over (partition by parsed.campaign_id) > 1
                    then
                        'campaign_id appears ' || count(*) over (partition by parsed.campaign_id)
                        || ' times: give each campaign its own id'
            end,
            case
                when
                    parsed.segment is null
                    or (
                        parsed.segment != '*'
                        and parsed.segment not in (select segments.segment from segments)
                    )
                    then
                        'unknown segment ''' || coalesce(parsed.segment, '') || ''': use one of '
                        || known_segments.segment_list || ' (seed segment_actions), or * for'
                        || ' every customer'
            end,
            case
                when parsed.campaign_action is null
                    then 'campaign_action is empty: say what the treatment group gets'
            end,
            case
                when
                    parsed.holdout_share is null
                    or not isfinite(parsed.holdout_share)
                    or parsed.holdout_share <= 0
                    or parsed.holdout_share >= 1
                    then
                        'holdout_share ''' || coalesce(parsed.holdout_share_text, '')
                        || ''' must be a number > 0 and < 1, e.g. 0.2 (20% holdout)'
            end,
            case
                when parsed.start_date is null
                    then
                        'start_date ''' || coalesce(parsed.start_date_text, '')
                        || ''' must be a date YYYY-MM-DD'
            end,
            case
                when parsed.end_date is null
                    then
                        'end_date ''' || coalesce(parsed.end_date_text, '')
                        || ''' must be a date YYYY-MM-DD'
            end,
            case
                when parsed.end_date <= parsed.start_date
                    then
                        'end_date ' || parsed.end_date || ' must be after start_date '
                        || parsed.start_date || ' (customers are assigned while start_date <='
                        || ' as_of_date < end_date)'
            end,
            case
                when parsed.measurement_days is null or parsed.measurement_days < 1
                    then
                        'measurement_days ''' || coalesce(parsed.measurement_days_text, '')
                        || ''' must be a whole number of days >= 1'
            end
        ], lambda problem: problem is not null) as problems
    from parsed
    cross join known_segments
),

verdict as (
    {#- One row whatever the number of campaigns; error() stops the build when a row is bad. -#}
    select
        case
            when count(*) filter (where len(problems) > 0) = 0 then true
            else error(
                {{ sql_string(origin) }} || ' has '
                || count(*) filter (where len(problems) > 0)
                || ' bad row(s); fix them and rebuild. '
                || string_agg(
                    'Row ' || row_position || ' (campaign_id ''' || coalesce(campaign_id, '')
                    || '''): ' || array_to_string(problems, '; '),
                    ' | ' order by row_position
                ) filter (where len(problems) > 0)
            )
        end as is_valid
    from checked
),

final as (
    select
        checked.campaign_id,
        checked.segment,
        checked.campaign_action,
        checked.holdout_share,
        checked.start_date,
        checked.end_date,
        checked.measurement_days,
        {{ sql_string(origin) }} as defined_in
    from checked
    cross join verdict
    where verdict.is_valid
)

select * from final
