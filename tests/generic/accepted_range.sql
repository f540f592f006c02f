{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {#- Fails on non-null values outside [min_value, max_value] (or the open interval). -#}
    {%- set lower = '>=' if inclusive else '>' -%}
    {%- set upper = '<=' if inclusive else '<' -%}
    select *
    from {{ model }}
    where {{ column_name }} is not null
        and not (
            true
            {%- if min_value is not none %}
                and {{ column_name }} {{ lower }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
                and {{ column_name }} {{ upper }} {{ max_value }}
            {%- endif %}
        )
{% endtest %}
