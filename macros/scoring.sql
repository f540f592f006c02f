{% macro clv_model_info() -%}
    {#- The loaded artifact's version, feature names and template (via the plugin's UDF). A
        missing artifact raises here, naming the expected path and the training command. -#}
    {%- if not execute -%}
        {{ return({'model_version': '', 'feature_names': [], 'text_template_version': ''}) }}
    {%- endif -%}
    {%- set result = run_query('select clv_model_info()') -%}
    {{ return(fromjson(result.columns[0].values()[0])) }}
{%- endmacro %}

{% macro check_clv_model(model) -%}
    {#- Fail with the column names when the artifact was trained on other features or text. -#}
    {%- if execute -%}
        {%- set warehouse = numeric_feature_columns() | map('replace', 'customer_rfm.', '')
            | map('replace', 'customer_cohorts.', '') | list -%}
        {%- set missing = model.feature_names | reject('in', warehouse) | list -%}
        {%- set unused = warehouse | reject('in', model.feature_names) | list -%}
        {%- if missing or unused -%}
            {{ exceptions.raise_compiler_error(
                "Model " ~ model.model_version ~ " (" ~ model.path ~ ") was trained on another "
                ~ "feature schema. Not in the warehouse: [" ~ missing | join(', ')
                ~ "]; not in the model: [" ~ unused | join(', ')
                ~ "]. Retrain with `make train` on the current feature tables.") }}
        {%- endif -%}
        {%- if model.text_template_version != behaviour_text_version() | trim | replace("'", "") -%}
            {{ exceptions.raise_compiler_error(
                "Model " ~ model.model_version ~ " was trained on behaviour text template "
                ~ model.text_template_version ~ ", the warehouse renders "
                ~ behaviour_text_version() | trim ~ ". Retrain with `make train`.") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro clv_features_struct(feature_names) -%}
    {#- The UDF's feature argument: a struct of the model's features, by name. -#}
    struct_pack(
        {%- for name in feature_names %}
        "{{ name }}" := cast({{ name }} as double){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro export_parquet() -%}
    {#- Post-hook of the marts: a Parquet copy for BI tools that prefer files. -#}
    {%- set path = env_var('CLV_EXPORT_PATH', 'warehouse/exports') -%}
    {%- if path -%}
        copy (select * from {{ this }}) to '{{ path }}/{{ this.identifier }}.parquet'
        (format parquet)
    {%- endif -%}
{%- endmacro %}
