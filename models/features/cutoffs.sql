{%- set training = setting('training_cutoffs') -%}
{%- set max_horizon = [setting('horizon_days'), setting('churn_horizon_days')] | max -%}

with

orders as (
    select order_date from {{ ref('stg_orders') }}
),

as_of as (
    {#- An aggregate, so exactly one row whether the var is set or not. -#}
    select
        {%- if setting('as_of_date') %}
            max(cast('{{ setting("as_of_date") }}' as date)) as as_of_date
        {%- else %}
            cast(max(order_date) + 1 as date) as as_of_date
        {%- endif %}
    from orders
),

training_cutoffs as (
    {%- if training is mapping %}
        {%- set step = training.get('step_days', 91) | int %}
        {%- set count = training.get('count', 1) | int %}
        select
            cast(
                {%- if training.get('start') %}
                    cast('{{ training.start }}' as date) + cast(step.i as integer) * {{ step }}
                {%- else %}
                    as_of.as_of_date - {{ max_horizon }} - cast(step.i as integer) * {{ step }}
                {%- endif %}
                as date
            ) as cutoff_date
        from as_of
        cross join range({{ count }}) as step (i)
    {%- elif training | length > 0 %}
        select cast(cutoff_date as date) as cutoff_date
        from (
            values
            {%- for cutoff in training %}
                ('{{ cutoff }}'){{ ',' if not loop.last }}
            {%- endfor %}
        ) as listed (cutoff_date)
    {%- else %}
        select cast(null as date) as cutoff_date where false
    {%- endif %}
),

all_cutoffs as (
    select as_of_date as cutoff_date from as_of
    union
    select cutoff_date from training_cutoffs
),

flagged as (
    select
        all_cutoffs.cutoff_date,
        all_cutoffs.cutoff_date = as_of.as_of_date as is_scoring_cutoff,
        all_cutoffs.cutoff_date in (select cutoff_date from training_cutoffs)
            as is_training_cutoff,
        all_cutoffs.cutoff_date + {{ setting('horizon_days') }} as horizon_end_date,
        all_cutoffs.cutoff_date + {{ setting('churn_horizon_days') }}
            as churn_horizon_end_date,
        all_cutoffs.cutoff_date + {{ max_horizon }} <= as_of.as_of_date as has_complete_labels
    from all_cutoffs
    cross join as_of
    {#- No valid order at all: no cutoff, and every feature table is empty. #}
    where all_cutoffs.cutoff_date is not null
)

select * from flagged
