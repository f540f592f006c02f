{#- The raw data contract lives in models/staging/_raw__sources.yml; these macros read it, so
    no column list is repeated in the base models. -#}

{% macro raw_source_node(table_name) -%}
    {#- The sources YAML node of raw.<table_name>; none at parse time, when the graph is empty. -#}
    {%- set key = 'source.' ~ project_name ~ '.raw.' ~ table_name -%}
    {%- set node = graph.sources.get(key) if graph.sources is defined else none -%}
    {%- if execute and node is none -%}
        {{ exceptions.raise_compiler_error(
            "raw table '" ~ table_name ~ "' is not declared in models/staging/_raw__sources.yml") }}
    {%- endif -%}
    {{ return(node) }}
{%- endmacro %}

{% macro raw_contract_columns(table_name) -%}
    {#- The contract columns of raw.<table_name>, in declared order: a list of dicts with
        name, type, required, fill and max_length. -#}
    {%- set node = raw_source_node(table_name) -%}
    {%- set columns = [] -%}
    {%- if node is not none -%}
        {%- for name, column in node.columns.items() -%}
            {%- set meta = column.meta or {} -%}
            {%- do columns.append({
                'name': name,
                'type': meta.get('type', 'text'),
                'required': meta.get('required', true),
                'fill': meta.get('fill'),
                'max_length': meta.get('max_length'),
            }) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}

{% macro raw_contract_column_names(table_name) -%}
    {{ return(raw_contract_columns(table_name) | map(attribute='name') | list) }}
{%- endmacro %}

{% macro raw_table_is_required(table_name) -%}
    {%- set node = raw_source_node(table_name) -%}
    {{ return(node is not none and (node.meta or {}).get('required', false)) }}
{%- endmacro %}

{% macro typed_value(column) -%}
    {#- The typed value of one contract column (a dict from raw_contract_columns). -#}
    {%- set name = column.name -%}
    {%- set text = 'cast(' ~ name ~ ' as varchar)' -%}
    {%- if column.type in ('id', 'name') -%}
        {%- set value = "nullif(trim(" ~ text ~ "), '')" -%}
    {%- elif column.type == 'category' -%}
        {%- set value = "lower(nullif(trim(" ~ text ~ "), ''))" -%}
    {%- elif column.type in ('timestamp', 'number') -%}
        {%- set sql_type = 'timestamp' if column.type == 'timestamp' else 'double' -%}
        {#- A typed Parquet column casts directly; text is trimmed first (' 2020-01-01 '). -#}
        {%- set value = 'coalesce(try_cast(' ~ name ~ ' as ' ~ sql_type ~ '), try_cast(trim('
            ~ text ~ ') as ' ~ sql_type ~ '))' -%}
    {%- else -%}
        {%- set value = text -%}
    {%- endif -%}
    {%- if column.max_length -%}
        {%- set value = 'left(' ~ value ~ ', ' ~ column.max_length ~ ')' -%}
    {%- endif -%}
    {%- if column.fill is not none -%}
        {%- set value = 'coalesce(' ~ value ~ ", '" ~ column.fill ~ "')" -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro typed_columns(table_name) -%}
    {#- For each contract column: its typed value under its own name, the raw value as raw_<col>,
        an is_<col>_unparseable flag for timestamps and numbers (present but not parseable; a
        blank value counts as missing) and an is_<col>_cut flag for capped text. -#}
    {%- set expressions = [] -%}
    {%- for column in raw_contract_columns(table_name) -%}
        {%- set name = column.name -%}
        {%- do expressions.append(typed_value(column) ~ ' as ' ~ name) -%}
        {%- do expressions.append(name ~ ' as raw_' ~ name) -%}
        {%- if column.type in ('timestamp', 'number') -%}
            {%- do expressions.append(
                "(nullif(trim(cast(" ~ name ~ " as varchar)), '') is not null and "
                ~ typed_value(column) ~ " is null) as is_" ~ name ~ "_unparseable") -%}
        {%- endif -%}
        {%- if column.max_length -%}
            {%- do expressions.append(
                'coalesce(length(cast(' ~ name ~ ' as varchar)) > ' ~ column.max_length
                ~ ', false) as is_' ~ name ~ '_cut') -%}
        {%- endif -%}
    {%- endfor -%}
    {{ expressions | join(',\n        ') }}
{%- endmacro %}

{% macro rejected_raw_columns(table_name) -%}
    {#- The raw values, as text, of quarantined rows (null on clean rows to save space). -#}
    {%- for column in raw_contract_column_names(table_name) %}
    case
        when rejection_reason is not null then cast(raw_{{ column }} as varchar)
    end as raw_{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro rejected_columns(table_name) -%}
    {#- The quarantined row as text under the contract's column names (for stg_*_rejected). -#}
    {%- for column in raw_contract_column_names(table_name) %}
        raw_{{ column }} as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
