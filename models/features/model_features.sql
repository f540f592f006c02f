{#- The declared numeric model features, one row per feature in model order, rendered from the
    macro numeric_feature_columns(): the one list SQL and Python share. Training reads the
    feature names from here (not "every DOUBLE column") and the artifact records them. -#}
with

declared as (
    {%- for column in numeric_feature_columns() %}
        {%- set source_model = column.split('.')[0] %}
        {%- set feature_name = column.split('.')[-1] %}
        select
            {{ loop.index }} as feature_position,
            '{{ feature_name }}' as feature_name,
            '{{ source_model }}' as source_model,
            '{{ model_column_description(source_model, feature_name) }}' as description
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select
    cast(feature_position as integer) as feature_position,
    cast(feature_name as varchar) as feature_name,
    cast(source_model as varchar) as source_model,
    cast(description as varchar) as description
from declared
