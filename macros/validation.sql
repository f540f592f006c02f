{#- The validation skeleton shared by the base_<table> models: typed columns come from the raw
    contract (macros/raw_contract.sql); these macros give the checks, the known-customer rule,
    the duplicate reason and the implausible-amount bound. -#}

{% macro clean_id(column) -%}
    nullif(trim(cast({{ column }} as varchar)), '')
{%- endmacro %}

{% macro is_out_of_range_timestamp(column) -%}
    {#- +-infinity, or before 1900: parseable but not a real event time. -#}
    (not isfinite({{ column }}) or {{ column }} < timestamp '1900-01-01')
{%- endmacro %}

{% macro max_valid_timestamp() -%}
    {#- Timestamps after the start of this dbt run are "in the future" and quarantined. -#}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}

{% macro timestamp_checks(column, relation='typed', required=true) -%}
    {#- `when ... then reason` lines of a timestamp column: unparseable, null (when required),
        out of range, in the future. -#}
    when {{ relation }}.is_{{ column }}_unparseable then 'unparseable_{{ column }}'
    {%- if required %}
    when {{ relation }}.{{ column }} is null then 'null_{{ column }}'
    {%- endif %}
    when {{ is_out_of_range_timestamp(relation ~ '.' ~ column) }} then 'out_of_range_{{ column }}'
    when {{ relation }}.{{ column }} > {{ max_valid_timestamp() }} then 'future_{{ column }}'
{%- endmacro %}

{% macro amount_checks(column, relation='typed') -%}
    {#- `when ... then reason` lines of a money column: unparseable, null, NaN / infinite,
        negative. -#}
    when {{ relation }}.is_{{ column }}_unparseable then 'unparseable_{{ column }}'
    when {{ relation }}.{{ column }} is null then 'null_{{ column }}'
    when not isfinite({{ relation }}.{{ column }}) then 'non_finite_{{ column }}'
    when {{ relation }}.{{ column }} < 0 then 'negative_{{ column }}'
{%- endmacro %}

{% macro known_customers_ctes() -%}
    {#- CTEs `known_customers` and `customers_known`. Every identified customer counts as known,
        even one whose own row is quarantined (e.g. a bad signed_up_at): that must not quarantine
        their whole history. Without a customers table every customer is known. -#}
known_customers as (
    select distinct customer_id from {{ ref('base_customers') }}
    where customer_id is not null
),

customers_known as (
    select count(*) > 0 as has_customers from known_customers
)
{%- endmacro %}

{% macro join_known_customers(relation='typed') -%}
    cross join customers_known
    left join known_customers
        on {{ relation }}.customer_id = known_customers.customer_id
{%- endmacro %}

{% macro unknown_customer_check() -%}
    when customers_known.has_customers and known_customers.customer_id is null
        then 'unknown_customer'
{%- endmacro %}

{% macro rejection_reason(key_columns, order_by, duplicate_reason) -%}
    {#- The row's validation reason, else `duplicate_reason` for every valid row after the first
        of its key (kept: the first in `order_by`, a deterministic order). -#}
    coalesce(
        invalid_reason,
        case
            when
                row_number() over (
                    partition by invalid_reason is null, {{ key_columns | join(', ') }}
                    {%- if order_by %}
                    order by {{ order_by | join(', ') }}
                    {%- endif %}
                ) > 1
                then '{{ duplicate_reason }}'
        end
    ) as rejection_reason
{%- endmacro %}

{% macro implausible_amount_factor() -%}
    {#- var implausible_amount_factor (default 100): an amount above factor x the 99th percentile
        of the shop's positive valid order totals is quarantined as implausible. -#}
    {{ return(setting('implausible_amount_factor') | float) }}
{%- endmacro %}
