{% macro clv_model_info() -%}
    {#- The loaded artifact's version, feature names, template and horizons (via the plugin's
        UDF). A missing or malformed artifact raises here, naming the file and the problem, so
        only the models that need a model fail. With the var clv_lint_placeholder (set by
        .sqlfluff) it returns the warehouse's own schema, so sqlfluff lints the scoring SQL
        without a trained model instead of skipping it. -#}
    {%- if var('clv_lint_placeholder', false) -%}
        {{ return({
            'model_version': 'lint_placeholder', 'path': 'lint',
            'feature_names': warehouse_feature_names(),
            'text_template_version': behaviour_text_version() | trim | replace("'", ""),
            'horizon_days': none, 'churn_horizon_days': none, 'placeholder': true,
            'uses_text': true, 'embedding_dim': 384, 'precision': 'fp32'}) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return({'model_version': '', 'feature_names': [], 'text_template_version': ''}) }}
    {%- endif -%}
    {%- set result = run_query('select clv_model_info()') -%}
    {%- set model = fromjson(result.columns[0].values()[0]) -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9][A-Za-z0-9._-]{0,127}', model.model_version) -%}
        {{ exceptions.raise_compiler_error(
            "Model at " ~ model.path ~ " has the version " ~ model.model_version[:80]
            ~ ", which is not a plain name; retrain with `make train`.") }}
    {%- endif -%}
    {{ return(model) }}
{%- endmacro %}

{% macro warehouse_feature_names() -%}
    {#- The numeric model features of the warehouse, in order, without table qualifiers. -#}
    {%- set names = [] -%}
    {%- for column in numeric_feature_columns() -%}
        {%- do names.append(column.split('.')[-1]) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{% macro check_clv_model(model) -%}
    {#- Stop before scoring when the artifact does not fit the warehouse: feature names in
        order (the weights expect that order), text template, label horizons. Each error names
        both sides and the fix. -#}
    {%- set cutoffs = ref('cutoffs') -%}
    {%- if execute and not model.get('placeholder') -%}
        {%- set warehouse = warehouse_feature_names() -%}
        {%- set where = "Model " ~ model.model_version ~ " (" ~ model.path ~ "/config.json)" -%}
        {%- set missing = model.feature_names | reject('in', warehouse) | list -%}
        {%- set unused = warehouse | reject('in', model.feature_names) | list -%}
        {%- if missing or unused -%}
            {{ exceptions.raise_compiler_error(
                where ~ " was trained on another feature schema. Not in the warehouse: ["
                ~ missing | join(', ') ~ "]; not in the model: [" ~ unused | join(', ')
                ~ "]. Retrain with `make train` on the current feature tables.") }}
        {%- endif -%}
        {%- if model.feature_names != warehouse -%}
            {%- set position = [] -%}
            {%- for name in warehouse -%}
                {%- if not position and model.feature_names[loop.index0] != name -%}
                    {%- do position.append(loop.index0) -%}
                {%- endif -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error(
                where ~ " lists the features in another order than the warehouse: at position "
                ~ position[0] ~ " the model has " ~ model.feature_names[position[0]]
                ~ ", the warehouse has " ~ warehouse[position[0]]
                ~ ". Its weights expect its training order, so it would score silently wrong."
                ~ " Warehouse order: [" ~ warehouse | join(', ') ~ "]. Restore the artifact's "
                ~ "config.json or retrain with `make train`.") }}
        {%- endif -%}
        {%- if model.text_template_version != behaviour_text_version() | trim | replace("'", "") -%}
            {{ exceptions.raise_compiler_error(
                where ~ " was trained on behaviour text template "
                ~ model.text_template_version ~ ", the warehouse renders "
                ~ behaviour_text_version() | trim ~ ". Retrain with `make train`.") }}
        {%- endif -%}
        {%- set horizons = run_query(
            "select distinct cast(horizon_end_date - cutoff_date as integer),"
            ~ " cast(churn_horizon_end_date - cutoff_date as integer) from " ~ cutoffs) -%}
        {%- for row in horizons.rows -%}
            {%- if row[0] | int != model.horizon_days
                or row[1] | int != model.churn_horizon_days -%}
                {{ exceptions.raise_compiler_error(
                    where ~ " predicts horizon_days=" ~ model.horizon_days
                    ~ ", churn_horizon_days=" ~ model.churn_horizon_days
                    ~ ", but the warehouse's cutoffs use horizon_days=" ~ row[0]
                    ~ ", churn_horizon_days=" ~ row[1]
                    ~ " (settings horizon_days / churn_horizon_days, env CLV_HORIZON_DAYS /"
                    ~ " CLV_CHURN_HORIZON_DAYS). Retrain with `make train` on this warehouse, or"
                    ~ " set the horizons the model was trained for and rebuild.") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro check_scoring_population() -%}
    {#- Before customer_scores is overwritten: stop when no customer is left at as_of_date, or
        fewer than min_population_share of those already scored (a broken or truncated export
        would otherwise delete every good score and empty the marts). The data test
        scoring_population_is_not_collapsed checks the same in `dbt build`. -#}
    {%- set features = ref('customer_features') -%}
    {%- if execute and not var('clv_lint_placeholder', false) -%}
        {%- set share = setting('min_population_share') -%}
        {%- set population = run_query('select count(*) from ' ~ features).columns[0].values()[0] -%}
        {%- set existing = adapter.get_relation(
            database=this.database, schema=this.schema, identifier=this.identifier) -%}
        {%- set previous = run_query('select count(*) from ' ~ existing).columns[0].values()[0]
            if existing else 0 -%}
        {%- if population == 0 -%}
            {{ exceptions.raise_compiler_error(
                "No customer to score: customer_features is empty at as_of_date, because every "
                ~ "order was rejected (see stg_orders_rejected.rejection_reason) or the orders "
                ~ "file at raw_path = " ~ setting('raw_path') ~ " (env CLV_RAW_PATH) has no rows. "
                ~ "Nothing was overwritten (customer_scores keeps " ~ previous ~ " rows). Fix the "
                ~ "export or point CLV_RAW_PATH at the right folder.") }}
        {%- endif -%}
        {%- if population < share * previous -%}
            {{ exceptions.raise_compiler_error(
                "The scoring population collapsed: " ~ population ~ " customers at as_of_date, "
                ~ previous ~ " already in customer_scores (less than min_population_share = "
                ~ share ~ "). Nothing was overwritten. Check the export at raw_path = "
                ~ setting('raw_path') ~ " and stg_orders_rejected; if the shrink is real, set "
                ~ "CLV_MIN_POPULATION_SHARE=0 for this run.") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro clv_features_struct(feature_names) -%}
    {#- The UDF's feature argument: a struct of the model's features, by name (names checked
        against the warehouse's own list by check_clv_model). -#}
    struct_pack(
        {%- for name in feature_names %}
        "{{ name }}" := cast({{ name }} as double){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro scores_are_finite(prefix) -%}
    {#- True when every score of a row is a finite number (NaN passes not_null and range tests,
        so it is checked explicitly). -#}
    coalesce(
        isfinite({{ prefix }}predicted_clv) and isfinite({{ prefix }}churn_probability)
        and isfinite({{ prefix }}purchase_probability) and isfinite({{ prefix }}clv_p10)
        and isfinite({{ prefix }}clv_p50) and isfinite({{ prefix }}clv_p90),
        false
    )
{%- endmacro %}

{% macro clv_plugin_config() -%}
    {#- The config of the python_udfs.plugin entry of this target in profiles.yml, the one
        place that reads CLV_MODEL_PATH, CLV_DEVICE and CLV_EXPORT_PATH. -#}
    {%- for plugin in target.get('plugins') or [] -%}
        {%- if plugin.module == 'python_udfs.plugin' -%}
            {{ return(plugin.config or {}) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "target '" ~ target.name ~ "' in profiles.yml has no python_udfs.plugin entry under "
        ~ "plugins: add it as in the dev target.") }}
{%- endmacro %}

{% macro export_parquet() -%}
    {#- Post-hook of the marts: a Parquet copy for BI tools that prefer files, in the
        plugin's export_path (CLV_EXPORT_PATH; empty: no copy). -#}
    {%- set path = clv_plugin_config().get('export_path') -%}
    {%- if path -%}
        copy (select * from {{ this }}) to {{ sql_string(path ~ '/' ~ this.identifier ~ '.parquet') }}
        (format parquet)
    {%- endif -%}
{%- endmacro %}

{% macro text_hash(text) -%}
    {#- The key of a behaviour text in text_embeddings (128-bit). -#}
    md5_number({{ text }})
{%- endmacro %}

{% macro texts_in_use() -%}
    {#- The distinct behaviour texts scoring needs: every customer's at as_of_date and the
        backtest's (the latest training cutoff), with their key and as_of_date. -#}
    select distinct
        behaviour_text,
        {{ text_hash('behaviour_text') }} as text_hash,
        (select max(cutoff_date) from {{ ref('customer_features') }}) as as_of_date
    from (
        select behaviour_text from {{ ref('customer_features') }}
        union all
        select behaviour_text from {{ ref('training_examples') }}
        where cutoff_date = (
            select max(latest.cutoff_date) from {{ ref('training_examples') }} as latest
        )
    ) as texts
{%- endmacro %}

{% macro refresh_text_embeddings() -%}
    {#- Post-hook of text_embeddings: mark the embeddings in use today, then evict those no
        customer has used for embedding_retention_days (any encoder's). -#}
    update {{ this }} as embeddings
    set last_used_on = in_use.as_of_date
    from ({{ texts_in_use() }}) as in_use
    where
        embeddings.text_hash = in_use.text_hash
        and embeddings.last_used_on < in_use.as_of_date;
    delete from {{ this }}
    where last_used_on < (select max(cutoff_date) from {{ ref('customer_features') }})
        - interval {{ setting('embedding_retention_days') }} day
{%- endmacro %}

{% macro with_embeddings(model, rows, cutoff_column='as_of_date') -%}
    {#- `rows` (a CTE with behaviour_text) with the `embedding` of its text for the loaded
        model's encoder, from text_embeddings; NULL for a numeric-only model (which ignores
        it). A text model's row without an embedding stops the build (text_embeddings runs
        first, so that means it was built for another model). A sequence model's embedding is
        its behaviour encoder's vector of the customer's events at `cutoff_column`
        (with_event_embeddings, macros/sequence_scoring.sql). -#}
    {%- if model.get('uses_events') -%}
        {{ return(with_event_embeddings(model, rows, cutoff_column)) }}
    {%- endif -%}
    {%- set embeddings = ref('text_embeddings') -%}
    {%- if execute and not model.get('placeholder') and not adapter.get_relation(
        database=embeddings.database, schema=embeddings.schema,
        identifier=embeddings.identifier) -%}
        {{ exceptions.raise_compiler_error(
            "text_embeddings does not exist yet, so " ~ this.identifier ~ " cannot be scored. "
            ~ "Build it first: dbt build --select +" ~ this.identifier
            ~ " (or --select tag:scoring).") }}
    {%- endif -%}
    {%- if model.get('uses_text', true) %}
        select
            {{ rows }}.*,
            case
                when text_embeddings.embedding is not null then text_embeddings.embedding
                else error(
                    'text_embeddings has no embedding of the behaviour text of customer '
                    || {{ rows }}.customer_id || ' for the encoder of model '
                    || clv_model_version() || '. Rebuild it: dbt build --select '
                    || '+text_embeddings (or --select tag:scoring).'
                )
            end as embedding
        from {{ rows }}
        left join {{ embeddings }} as text_embeddings
            on
                text_embeddings.text_hash = {{ text_hash(rows ~ '.behaviour_text') }}
                and text_embeddings.encoder_fingerprint
                = (select clv_encoder_fingerprint())
    {%- else %}
        select
            {{ rows }}.*,
            cast(null as float[{{ model.embedding_dim | int }}]) as embedding
        from {{ rows }}
    {%- endif %}
{%- endmacro %}

{% macro check_embedding_size(model) -%}
    {#- text_embeddings stores FLOAT[H] of one size: an encoder of another size (a new base
        model) needs the table rebuilt, which this says instead of a type error. -#}
    {%- if is_incremental() and not model.get('placeholder') -%}
        {%- set stored = run_query(
            "select data_type from information_schema.columns where table_schema = '"
            ~ this.schema ~ "' and table_name = '" ~ this.identifier
            ~ "' and column_name = 'embedding'").columns[0].values() -%}
        {%- set wanted = 'FLOAT[' ~ (model.embedding_dim | int) ~ ']' -%}
        {%- if stored and stored[0] | upper != wanted -%}
            {{ exceptions.raise_compiler_error(
                "text_embeddings stores " ~ stored[0] ~ " embeddings, but the encoder of model "
                ~ model.model_version ~ " gives " ~ wanted ~ " (another base model). Rebuild "
                ~ "it for this encoder: dbt build --full-refresh --select text_embeddings+") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro scoring_input_hash(feature_names, prefix='', extra=[]) -%}
    {#- md5 of a row's scoring inputs (behaviour text, `extra` columns, then the features
        rounded to 6 decimals: parallel float sums differ in the last bits between runs); a
        change triggers a rescore in customer_scores and backtest_scores. -#}
    md5(concat_ws(
        '|',
        {{ prefix }}behaviour_text,
        {%- for column in extra %}
            cast({{ prefix }}{{ column }} as varchar),
        {%- endfor %}
        {%- for name in feature_names %}
            coalesce(cast(round({{ prefix }}{{ name }}, 6) as varchar), '')
            {{- ',' if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}
