{#- Population stability index of each score between the last two runs (empty until there
    are two). PSI = sum over bins of (current - previous) * ln(current / previous), shares
    floored at 0.0001; < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift. -#}
with

score_histograms as (
    select
        invocation_id,
        run_at,
        score_name,
        score_bin,
        customer_share,
        model_version
    from {{ ref('score_histograms') }}
),

runs as (
    select
        invocation_id,
        run_at,
        row_number() over (order by run_at desc, invocation_id desc) as recency_rank
    from (select distinct
        invocation_id,
        run_at
    from score_histograms) as distinct_runs
),

last_two as (
    select
        score_histograms.*,
        runs.recency_rank
    from score_histograms
    inner join runs
        on score_histograms.invocation_id = runs.invocation_id
    where runs.recency_rank <= 2
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
        greatest(coalesce(current_run.customer_share, 0), 0.0001) as current_share,
        greatest(coalesce(previous_run.customer_share, 0), 0.0001) as previous_share
    from bins
    left join last_two as current_run
        on
            bins.score_name = current_run.score_name
            and bins.score_bin = current_run.score_bin
            and current_run.recency_rank = 1
    left join last_two as previous_run
        on
            bins.score_name = previous_run.score_name
            and bins.score_bin = previous_run.score_bin
            and previous_run.recency_rank = 2
),

drift as (
    select
        compared.score_name,
        sum((current_share - previous_share) * ln(current_share / previous_share)) as psi,
        (
            select run_at from runs
            where recency_rank = 1
        ) as current_run_at,
        (
            select run_at from runs
            where recency_rank = 2
        ) as previous_run_at
    from compared
    group by compared.score_name
)

select * from drift
where previous_run_at is not null
