{#- Population stability index of each score between the last two snapshots of
    customer_score_history (by as_of_date, then model version; empty until there are two).
    PSI = sum over bins of (current - previous) * ln(current / previous), shares floored at
    0.0001; < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift. -#}
with

score_histograms as (
    select
        as_of_date,
        model_version,
        score_name,
        score_bin,
        customer_share
    from {{ ref('score_histograms') }}
),

snapshots as (
    select
        as_of_date,
        model_version,
        row_number() over (order by as_of_date desc, model_version desc) as recency_rank
    from (select distinct
        as_of_date,
        model_version
    from score_histograms) as distinct_snapshots
),

last_two as (
    select
        score_histograms.*,
        snapshots.recency_rank
    from score_histograms
    inner join snapshots
        on
            score_histograms.as_of_date = snapshots.as_of_date
            and score_histograms.model_version = snapshots.model_version
    where snapshots.recency_rank <= 2
),

bins as (
    select distinct
        score_name,
        score_bin
    from last_two
),

compared as (
    select
        bins.score_name,
        bins.score_bin,
        greatest(coalesce(current_snapshot.customer_share, 0), 0.0001) as current_share,
        greatest(coalesce(previous_snapshot.customer_share, 0), 0.0001) as previous_share
    from bins
    left join last_two as current_snapshot
        on
            bins.score_name = current_snapshot.score_name
            and bins.score_bin = current_snapshot.score_bin
            and current_snapshot.recency_rank = 1
    left join last_two as previous_snapshot
        on
            bins.score_name = previous_snapshot.score_name
            and bins.score_bin = previous_snapshot.score_bin
            and previous_snapshot.recency_rank = 2
),

snapshot_keys as (
    select
        max(case when recency_rank = 1 then as_of_date end) as current_as_of_date,
        max(case when recency_rank = 1 then model_version end) as current_model_version,
        max(case when recency_rank = 2 then as_of_date end) as previous_as_of_date,
        max(case when recency_rank = 2 then model_version end) as previous_model_version
    from snapshots
),

drift as (
    select
        compared.score_name,
        sum(
            (compared.current_share - compared.previous_share)
            * ln(compared.current_share / compared.previous_share)
        ) as psi
    from compared
    group by compared.score_name
),

final as (
    select
        drift.score_name,
        drift.psi,
        snapshot_keys.current_as_of_date,
        snapshot_keys.current_model_version,
        snapshot_keys.previous_as_of_date,
        snapshot_keys.previous_model_version
    from drift
    cross join snapshot_keys
    where snapshot_keys.previous_as_of_date is not null
)

select * from final
