{% macro quintile_score(order_by, partition_by='cutoff_date') -%}
    {#- 1..5 by percent rank; ties share a score, so the result never depends on row order. -#}
    cast(1 + least(4, floor(5 * percent_rank() over (
        partition by {{ partition_by }} order by {{ order_by }}
    ))) as integer)
{%- endmacro %}

{% macro rfm_segment(r_score, f_score) -%}
    {#- Nine named segments on the recency and frequency scores, after the classic 11-cell RFM
        map (its 'promising' and 'lost' cells fold into their neighbours). -#}
    case
        when {{ r_score }} >= 4 and {{ f_score }} >= 4 then 'champions'
        when {{ r_score }} >= 3 and {{ f_score }} >= 3 then 'loyal_customers'
        when {{ r_score }} >= 4 and {{ f_score }} = 1 then 'new_customers'
        when {{ r_score }} >= 4 then 'potential_loyalists'
        when {{ r_score }} = 3 then 'needs_attention'
        when {{ r_score }} = 1 and {{ f_score }} >= 4 then 'cannot_lose_them'
        when {{ f_score }} >= 3 then 'at_risk'
        when {{ r_score }} = 2 then 'about_to_sleep'
        else 'hibernating'
    end
{%- endmacro %}

{% macro lifecycle_stage(recency_days, tenure_days, purchase_days) -%}
    case
        when {{ recency_days }} >= {{ setting('lifecycle_churned_days') }} then 'churned'
        when {{ recency_days }} >= {{ setting('lifecycle_at_risk_days') }} then 'at_risk'
        when {{ tenure_days }} < {{ setting('lifecycle_new_days') }} then 'new'
        when {{ purchase_days }} >= 3 then 'loyal'
        else 'active'
    end
{%- endmacro %}

{% macro cohort_trim(size) -%}
    {#- Customers trimmed from each end of a cohort for its trimmed means: 5%, at least one once
        the cohort has three customers, none below. -#}
    (case when {{ size }} >= 3 then greatest(1, floor(0.05 * {{ size }})) else 0 end)
{%- endmacro %}
