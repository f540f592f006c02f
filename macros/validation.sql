{% macro clean_id(column) -%}
    nullif(trim(cast({{ column }} as varchar)), '')
{%- endmacro %}

{% macro is_unparseable(column, data_type) -%}
    ({{ column }} is not null and try_cast({{ column }} as {{ data_type }}) is null)
{%- endmacro %}

{% macro is_out_of_range_timestamp(column) -%}
    {#- +-infinity, or before 1900: parseable but not a real event time. -#}
    (not isfinite({{ column }}) or {{ column }} < timestamp '1900-01-01')
{%- endmacro %}

{% macro max_valid_timestamp() -%}
    {#- Timestamps after the start of this dbt run are "in the future" and quarantined. -#}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}

{% macro keep_raw(column) -%}
    {{ column }} as raw_{{ column }}
{%- endmacro %}

{% macro rejected_raw_columns(columns) -%}
    {#- The raw values, as text, of quarantined rows (null on clean rows to save space). -#}
    {%- for column in columns %}
    case
        when rejection_reason is not null then cast(raw_{{ column }} as varchar)
    end as raw_{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
