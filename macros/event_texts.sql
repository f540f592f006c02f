{#- The texts events refer to (event_texts, customer_events): one home for how a product, a
    review and a search query become an event text and its id, so both models agree. -#}

{% macro event_text_id(kind, text) -%}
    {#- The key of an event text: md5 hex of kind ':' text. -#}
    md5({{ kind }} || ':' || {{ text }})
{%- endmacro %}

{% macro event_product_text(name_words, category_words) -%}
    {#- "<name words>, <category words>" (each from product_words: no digits, sizes or
        placeholders); null when the name leaves no word (a missing or placeholder name), so
        such a product has no text. The raw contract has no brand or department. -#}
    case
        when {{ name_words }} is not null
            then {{ name_words }} || coalesce(', ' || {{ category_words }}, '')
    end
{%- endmacro %}

{% macro event_review_text(text) -%}
    {#- A review's first whole sentences, scrubbed (scrub_text), at most 40 words; null when
        nothing is left. -#}
    {{ scrub_text(text, 40, whole_sentences=true) }}
{%- endmacro %}

{% macro event_search_text(text) -%}
    {#- A search query, scrubbed (scrub_text), at most 8 words; null when nothing is left. -#}
    {{ scrub_text(text, 8) }}
{%- endmacro %}

{% macro event_text_sources(cutoff_sql) -%}
    {#- (text_kind, source_key, source_text) of every product, review text and search query
        that an event before `cutoff_sql` (a scalar SQL expression) refers to; source_text is
        null when it scrubs to nothing. source_key is the product_id, the raw review text or
        the raw query. Products have a text only when the catalogue has two or more. -#}
    select
        'product' as text_kind,
        product_id as source_key,
        source_text
    from (
        select
            product_id,
            {{ event_product_text('name_words', 'category_words') }} as source_text,
            count(distinct {{ event_product_text('name_words', 'category_words') }}) over ()
                as catalogue_texts
        from (
            select
                product_id,
                {{ product_words('product_name', 6) }} as name_words,
                {{ product_words('category', 3) }} as category_words
            from {{ ref('stg_products') }}
        ) as words
    ) as products
    where
        {#- A catalogue of one text (CDNOW: every product is "compact disc") says nothing, as
            in the behaviour text: then no product has a text. #}
        products.catalogue_texts >= 2
        and product_id in (
        select order_items.product_id
        from {{ ref('stg_order_items') }} as order_items
        inner join {{ ref('stg_orders') }} as orders
            on order_items.order_id = orders.order_id
        where orders.ordered_at < {{ cutoff_sql }}
        union
        select product_id from {{ ref('stg_reviews') }}
        where reviewed_at < {{ cutoff_sql }}
        union
        select product_id from {{ ref('stg_events') }}
        where event_at < {{ cutoff_sql }}
    )
    union all
    select
        'review' as text_kind,
        review_text as source_key,
        {{ event_review_text('review_text') }} as source_text
    from (
        select distinct review_text from {{ ref('stg_reviews') }}
        where reviewed_at < {{ cutoff_sql }} and review_text is not null
    ) as reviews
    union all
    select
        'search' as text_kind,
        search_query as source_key,
        {{ event_search_text('search_query') }} as source_text
    from (
        select distinct search_query from {{ ref('stg_events') }}
        where event_at < {{ cutoff_sql }} and search_query is not null
    ) as searches
{%- endmacro %}

{% macro new_event_text_count() -%}
    {#- In event_text_embeddings: how many texts of event_texts have no embedding for the
        current encoder yet, logged; 0 means this run embeds nothing (and loads no encoder).
        1 when linting, so sqlfluff sees the embedding branch. -#}
    {%- if not execute -%}
        {{ return(0) }}
    {%- elif var('clv_lint_placeholder', false) -%}
        {{ return(1) }}
    {%- endif -%}
    {{ check_event_embedding_size() }}
    {%- set sql -%}
        select count(*) from {{ ref('event_texts') }} as texts
        {%- if is_incremental() %}
            where not exists (
                select 1 from {{ this }} as existing
                where
                    existing.text_id = texts.text_id
                    and existing.encoder_fingerprint = clv_event_encoder_fingerprint()
            )
        {%- endif %}
    {%- endset -%}
    {%- set count = run_query(sql).columns[0].values()[0] | int -%}
    {%- do log('event_text_embeddings: embedding ' ~ count ~ ' new event texts', info=true) -%}
    {{ return(count) }}
{%- endmacro %}

{% macro upstream_by_name(relation, identifier) -%}
    {#- The model `identifier` next to `relation` (same database and schema), without a DAG
        edge: for a test of customer_events that reads models upstream of it. With a ref(),
        eager indirect selection (dbt build --select +training_examples) would pick the test
        up before customer_events exists. -#}
    {{ return(relation.incorporate(path={'identifier': identifier})) }}
{%- endmacro %}

{% macro check_event_embedding_size() -%}
    {#- event_text_embeddings stores FLOAT[dim] of one size: an encoder of another size (a new
        event_text_encoder) needs the table rebuilt, which this says instead of a type error.
        The UDF's type is read by binding it (describe), so nothing is embedded. -#}
    {%- if is_incremental() -%}
        {%- set stored = run_query(
            "select data_type from information_schema.columns where table_schema = '"
            ~ this.schema ~ "' and table_name = '" ~ this.identifier
            ~ "' and column_name = 'embedding'").columns[0].values() -%}
        {%- set wanted = run_query(
            "describe select clv_embed_event_text('') as embedding").columns[1].values()[0] -%}
        {%- if stored and stored[0] | upper != wanted | upper -%}
            {{ exceptions.raise_compiler_error(
                "event_text_embeddings stores " ~ stored[0] ~ " embeddings, but the event text "
                ~ "encoder (setting event_text_encoder, env CLV_EVENT_TEXT_ENCODER) gives "
                ~ wanted ~ ". Rebuild it for this encoder: dbt build --full-refresh --select "
                ~ "event_text_embeddings") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
