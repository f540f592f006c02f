{% macro customer_feature_rows(cutoff_flag) -%}
    {#- The model inputs of every customer at the cutoffs flagged `cutoff_flag` in `cutoffs`.
        customer_features (scoring) and training_examples (training) both call this macro, so
        training and scoring read the same SQL. -#}
    select
        customer_rfm.customer_id,
        customer_rfm.cutoff_date,
        {%- for column in numeric_feature_columns() %}
        cast({{ column }} as double) as {{ column.split('.')[-1] }},
        {%- endfor %}
        customer_rfm.rfm_segment,
        customer_rfm.lifecycle_stage,
        customer_cohorts.cohort_month,
        customer_cohorts.country,
        customer_cohorts.acquisition_channel,
        customer_behaviour_text.behaviour_text,
        customer_behaviour_text.text_template_version
    from {{ ref('customer_rfm') }} as customer_rfm
    inner join {{ ref('cutoffs') }} as cutoffs
        on customer_rfm.cutoff_date = cutoffs.cutoff_date
    inner join {{ ref('customer_cohorts') }} as customer_cohorts
        on
            customer_rfm.customer_id = customer_cohorts.customer_id
            and customer_rfm.cutoff_date = customer_cohorts.cutoff_date
    inner join {{ ref('customer_behaviour_text') }} as customer_behaviour_text
        on
            customer_rfm.customer_id = customer_behaviour_text.customer_id
            and customer_rfm.cutoff_date = customer_behaviour_text.cutoff_date
    where cutoffs.{{ cutoff_flag }}
{%- endmacro %}

{% macro numeric_feature_columns() -%}
    {#- The numeric model features, in order (the model artifact records this order). Nulls
        mean "not defined" (e.g. gaps of a one-time buyer); the trainer imputes them. -#}
    {{ return([
        'customer_rfm.recency_days',
        'customer_rfm.tenure_days',
        'customer_rfm.orders',
        'customer_rfm.frequency',
        'customer_rfm.purchase_days',
        'customer_rfm.repeat_purchase_days',
        'customer_rfm.purchase_span_days',
        'customer_rfm.monetary_total',
        'customer_rfm.monetary_mean',
        'customer_rfm.refunds',
        'customer_rfm.refunded_amount',
        'customer_rfm.net_monetary_total',
        'customer_rfm.repeat_purchase_value_mean',
        'customer_rfm.mean_gap_days',
        'customer_rfm.stddev_gap_days',
        'customer_rfm.max_gap_days',
        'customer_rfm.purchases_last_30d',
        'customer_rfm.purchases_last_90d',
        'customer_rfm.purchases_last_365d',
        'customer_rfm.revenue_last_90d',
        'customer_rfm.revenue_last_365d',
        'customer_rfm.returned_orders',
        'customer_rfm.cancelled_orders',
        'customer_rfm.return_rate',
        'customer_rfm.r_score',
        'customer_rfm.f_score',
        'customer_rfm.m_score',
        'customer_cohorts.months_since_first_order',
        'customer_cohorts.days_from_signup_to_first_order',
        'customer_cohorts.cohort_size',
        'customer_cohorts.cohort_mean_revenue',
        'customer_cohorts.cohort_median_revenue',
        'customer_cohorts.cohort_repeat_rate',
        'customer_cohorts.cohort_active_rate_90d',
        'customer_cohorts.revenue_percentile_in_cohort',
        'customer_cohorts.revenue_vs_cohort',
    ]) }}
{%- endmacro %}

{% macro model_column_description(model_name, column_name) -%}
    {#- The description of a model column from its _*.yml (single quotes doubled for SQL), so
        model_features repeats the documentation instead of copying it. -#}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.name == model_name -%}
                {%- set column = node.columns.get(column_name) -%}
                {%- if column -%}
                    {%- do found.append(column.description | trim) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return((found[0] if found else '') | replace("'", "''") | replace('\n', ' ')) }}
{%- endmacro %}
