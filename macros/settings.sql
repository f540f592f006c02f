{% macro setting_kinds() -%}
    {#- The type of every project setting (var in dbt_project.yml, env var CLV_<NAME>). The
        Python twin is python_udfs/settings.py (SETTINGS); tests/test_settings.py keeps both in
        step with dbt_project.yml. -#}
    {{ return({
        'raw_path': 'path',
        'raw_format': 'raw_format',
        'as_of_date': 'optional_date',
        'training_cutoffs': 'cutoffs',
        'horizon_days': 'positive_int',
        'churn_horizon_days': 'positive_int',
        'lifecycle_new_days': 'positive_int',
        'lifecycle_at_risk_days': 'positive_int',
        'lifecycle_churned_days': 'positive_int',
        'value_tier_high_share': 'share',
        'value_tier_low_share': 'share',
        'churn_risk_high': 'share',
        'churn_risk_medium': 'share',
        'min_population_share': 'share',
        'implausible_amount_factor': 'positive_int',
        'text_token_budget': 'positive_int',
        'embedding_retention_days': 'positive_int',
        'discount_rate_monthly': 'share',
        'lifetime_months': 'positive_int',
        'gross_margin': 'share',
        'event_sequence_length': 'sequence_length',
        'event_text_encoder': 'optional_path',
    }) }}
{%- endmacro %}

{% macro setting(name) -%}
    {#- A project setting, typed and validated before it reaches SQL: `var(name)`, which
        dbt_project.yml reads from the env var CLV_<NAME> (or `--vars` overrides). A bad value
        stops the build with the var, the env var and what was expected. -#}
    {%- set kinds = setting_kinds() -%}
    {%- if name not in kinds -%}
        {{ exceptions.raise_compiler_error(
            "setting('" ~ name ~ "'): unknown setting; known: " ~ kinds.keys() | sort | join(', ')) }}
    {%- endif -%}
    {%- set kind = kinds[name] -%}
    {%- set raw = var(name, none) -%}
    {%- set text = (raw | string | trim) if raw is not none else '' -%}
    {%- set where = "setting " ~ name ~ " = " ~ (raw | string)[:200] ~ " (var '" ~ name
        ~ "' in dbt_project.yml, env CLV_" ~ name | upper ~ ")" -%}
    {%- if kind == 'path' -%}
        {%- if text == '' or modules.re.search('[\\n\\r\\x00]', text) -%}
            {{ exceptions.raise_compiler_error(where
                ~ ": expected a non-empty folder path without line breaks") }}
        {%- endif -%}
        {{ return(text) }}
    {%- elif kind == 'optional_path' -%}
        {%- if modules.re.search('[\\n\\r\\x00]', text) -%}
            {{ exceptions.raise_compiler_error(where
                ~ ": expected a folder path without line breaks, or empty") }}
        {%- endif -%}
        {{ return(text) }}
    {%- elif kind == 'sequence_length' -%}
        {%- if not modules.re.fullmatch('[0-9]{1,4}', text) or raw is sameas true
            or raw is sameas false or text | int < 16 or text | int > 512 -%}
            {{ exceptions.raise_compiler_error(where ~ ": expected a whole number from 16 to 512") }}
        {%- endif -%}
        {{ return(text | int) }}
    {%- elif kind == 'raw_format' -%}
        {%- if text not in ['csv', 'parquet'] -%}
            {{ exceptions.raise_compiler_error(where ~ ": expected csv or parquet") }}
        {%- endif -%}
        {{ return(text) }}
    {%- elif kind == 'optional_date' -%}
        {%- if text in ['', 'none', 'None', 'null'] -%}
            {{ return(none) }}
        {%- endif -%}
        {{ return(setting_date(text, where)) }}
    {%- elif kind == 'positive_int' -%}
        {%- if raw is not number and not modules.re.fullmatch('[0-9]+', text) -%}
            {{ exceptions.raise_compiler_error(where ~ ": expected a positive whole number") }}
        {%- endif -%}
        {%- if raw is number and (raw != raw | int or raw is sameas true or raw is sameas false) -%}
            {{ exceptions.raise_compiler_error(where ~ ": expected a positive whole number") }}
        {%- endif -%}
        {%- if text | int < 1 -%}
            {{ exceptions.raise_compiler_error(where ~ ": expected a positive whole number") }}
        {%- endif -%}
        {{ return(text | int) }}
    {%- elif kind == 'share' -%}
        {%- if not modules.re.fullmatch('[0-9]+([.][0-9]*)?|[.][0-9]+', text)
            or text | float > 1 -%}
            {{ exceptions.raise_compiler_error(where ~ ": expected a number from 0 to 1") }}
        {%- endif -%}
        {{ return(text | float) }}
    {%- elif kind == 'cutoffs' -%}
        {{ return(setting_cutoffs(raw, where)) }}
    {%- endif -%}
{%- endmacro %}

{% macro setting_date(value, where) -%}
    {#- 'YYYY-MM-DD' of a real calendar date, or a compile error naming the setting. -#}
    {%- set text = value | string | trim -%}
    {%- set ok = modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
    {%- if ok -%}
        {%- set parts = text.split('-') | map('int') | list -%}
        {%- set ok = parts[1] >= 1 and parts[1] <= 12 and parts[2] >= 1
            and parts[2] <= [31, 29 if parts[0] % 4 == 0 and (parts[0] % 100 != 0
                or parts[0] % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][parts[1] - 1]
            and parts[0] >= 1900 -%}
    {%- endif -%}
    {%- if not ok -%}
        {{ exceptions.raise_compiler_error(where ~ ": " ~ text[:50]
            ~ " is not a date (expected YYYY-MM-DD)") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}

{% macro setting_cutoffs(raw, where) -%}
    {#- training_cutoffs: a list of dates, or {start, step_days, count}; from the env var as
        JSON / YAML text. -#}
    {%- set value = raw -%}
    {%- if raw is string -%}
        {%- set value = fromyaml(raw) if raw | trim else [] -%}
    {%- endif -%}
    {%- if value is mapping -%}
        {%- set unknown = value.keys() | reject('in', ['start', 'step_days', 'count']) | list -%}
        {%- if unknown -%}
            {{ exceptions.raise_compiler_error(where ~ ": unknown key(s) " ~ unknown | join(', ')
                ~ "; expected start, step_days, count") }}
        {%- endif -%}
        {%- set result = {} -%}
        {%- for key in ['step_days', 'count'] -%}
            {%- set number = value.get(key, 91 if key == 'step_days' else 1) | string | trim -%}
            {%- if not modules.re.fullmatch('[0-9]+', number) or number | int < 1 -%}
                {{ exceptions.raise_compiler_error(where ~ ": " ~ key
                    ~ " must be a positive whole number") }}
            {%- endif -%}
            {%- do result.update({key: number | int}) -%}
        {%- endfor -%}
        {%- if value.get('start') -%}
            {%- do result.update({'start': setting_date(value.start, where)}) -%}
        {%- endif -%}
        {{ return(result) }}
    {%- elif value is iterable and value is not string -%}
        {%- set dates = [] -%}
        {%- for item in value -%}
            {%- do dates.append(setting_date(item, where)) -%}
        {%- endfor -%}
        {{ return(dates) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(where
        ~ ": expected a list of dates or {start, step_days, count}") }}
{%- endmacro %}

{% macro sql_string(value) -%}
    {#- A SQL string literal of `value` with its quotes doubled: the only way a setting or a
        path enters SQL as text. -#}
    {{- return("'" ~ (value | string | replace("'", "''")) ~ "'") -}}
{%- endmacro %}

{% macro print_settings() -%}
    {#- `dbt run-operation print_settings`: every setting as dbt sees it, as one JSON line. -#}
    {%- set values = {} -%}
    {%- for name in setting_kinds() -%}
        {%- do values.update({name: setting(name)}) -%}
    {%- endfor -%}
    {{ print('CLV_SETTINGS ' ~ tojson(values, sort_keys=true)) }}
{%- endmacro %}
