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
        read_csv({{ sql_string(raw_file_path(table_name)) }}, header = true, all_varchar = true)
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

{% macro raw_table(table_name, columns, required=false) -%}
    {#- Select the contract columns of raw.<table_name>. A missing optional file becomes an
        empty relation of text columns; a missing required file or column is a clear error. -#}
    {%- set found = raw_file_exists(table_name) -%}
    {%- if execute and not found and required -%}
        {{ exceptions.raise_compiler_error(
            "Required raw table '" ~ table_name ~ "' not found at " ~ raw_file_path(table_name)
            ~ " (set the raw_path / raw_format vars; see README 'Data contract')") }}
    {%- endif -%}
    {%- if execute and found -%}
        {%- set described = run_query("describe select * from " ~ raw_reader(table_name)) -%}
        {%- set present = described.columns[0].values() | map('lower') | list -%}
        {%- set missing = columns | reject('in', present) | list -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error(
                "Raw table '" ~ table_name ~ "' at " ~ raw_file_path(table_name)
                ~ " lacks required column(s): " ~ missing | join(', ')
                ~ "; it has: " ~ present | join(', ')) }}
        {%- endif -%}
    {%- endif -%}
    {%- if found -%}
        select {{ columns | join(', ') }} from {{ raw_reader(table_name) }}
    {%- else -%}
        select
        {%- for column in columns %}
            cast(null as varchar) as {{ column }}{{ ',' if not loop.last }}
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
