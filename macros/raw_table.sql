{% macro raw_file_path(table_name) -%}
    {{ return(setting('raw_path') ~ '/' ~ table_name ~ '.' ~ setting('raw_format')) }}
{%- endmacro %}

{% macro raw_reader(table_name) -%}
    {#- The reader of a raw file. The path enters SQL only through sql_string() (a raw_path
        with a quote works); source() is called for the lineage only. -#}
    {%- set lineage = source('raw', table_name) -%}
    {%- if setting('raw_format') == 'parquet' -%}
        read_parquet({{ sql_string(raw_file_path(table_name)) }})
    {%- else -%}
        {#- A fixed dialect: comma, double quote, one header row; LF, CRLF and mixed line
            endings are all accepted (strict_mode = false). -#}
        read_csv(
            {{ sql_string(raw_file_path(table_name)) }}, header = true, all_varchar = true,
            delim = ',', quote = '"', escape = '"', strict_mode = false
        )
    {%- endif -%}
{%- endmacro %}

{% macro raw_file_exists(table_name) -%}
    {#- Whether the raw file of a table exists; true at parse time, when nothing runs. -#}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set matches = run_query("select count(*) from glob(" ~ sql_string(raw_file_path(table_name)) ~ ")") -%}
    {{ return(matches.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro raw_file_columns(table_name) -%}
    {#- The lower-case column names of the raw file, read by DuckDB. A file DuckDB cannot read
        (e.g. a CSV whose rows do not split into the same columns) is an error naming it. -#}
    {%- set sql = "describe select * from " ~ raw_reader(table_name) -%}
    {%- set ns = namespace(described=none) -%}
    {%- if execute -%}
        {%- set ns.described = run_query(sql) -%}
    {%- endif -%}
    {{ return(ns.described.columns[0].values() | map('lower') | list if ns.described else []) }}
{%- endmacro %}

{% macro raw_table(table_name) -%}
    {#- Select the contract columns (models/staging/_raw__sources.yml) of raw.<table_name>.
        A missing optional file becomes an empty relation of text columns, a missing optional
        column a null one; a missing required file or column is a clear error. -#}
    {%- set columns = raw_contract_columns(table_name) -%}
    {%- set found = raw_file_exists(table_name) -%}
    {%- if execute and not found and raw_table_is_required(table_name) -%}
        {{ exceptions.raise_compiler_error(
            "Required raw table '" ~ table_name ~ "' not found at " ~ raw_file_path(table_name)
            ~ " (set the raw_path / raw_format vars; see README 'Data contract')") }}
    {%- endif -%}
    {%- set present = raw_file_columns(table_name) if execute and found else [] -%}
    {%- if execute and found -%}
        {%- set missing = columns | selectattr('required') | map(attribute='name')
            | reject('in', present) | list -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error(
                "Raw table '" ~ table_name ~ "' at " ~ raw_file_path(table_name)
                ~ " lacks required column(s): " ~ missing | join(', ')
                ~ "; it has: " ~ present | join(', ')
                ~ " (a CSV needs one header row, commas, double quotes and the same number of fields"
                ~ " on every row)") }}
        {%- endif -%}
    {%- endif -%}
    {%- if found -%}
        select
        {%- for column in columns %}
            {%- if not execute or column.name in present %}
            {{ column.name }}{{ ',' if not loop.last }}
            {%- else %}
            cast(null as varchar) as {{ column.name }}{{ ',' if not loop.last }}
            {%- endif %}
        {%- endfor %}
        from {{ raw_reader(table_name) }}
    {%- else -%}
        select
        {%- for column in columns %}
            cast(null as varchar) as {{ column.name }}{{ ',' if not loop.last }}
        {%- endfor %}
        where false
    {%- endif -%}
{%- endmacro %}

{% macro raw_table_rows(table_name) -%}
    {#- Every row of raw.<table_name> as the reader sees it (none when the file is missing). -#}
    {%- if raw_file_exists(table_name) -%}
        select * from {{ raw_reader(table_name) }}
    {%- else -%}
        select 1 as missing_table where false
    {%- endif -%}
{%- endmacro %}
