{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    post_hook=["{{ refresh_text_embeddings() }}"],
) }}
{#- One row per distinct behaviour text and encoder: the expensive part of scoring, done once.
    A run embeds (clv_embed UDF) only the texts in use, at as_of_date or at the latest training
    cutoff (backtest_scores), that have no embedding for the loaded model's encoder yet; the
    post-hook marks the texts in use and evicts those unused for embedding_retention_days.
    A numeric-only model embeds nothing. -#}
{%- set model = clv_model_info() -%}
{{ check_clv_model(model) }}
{%- if execute and model.get('uses_text') %}
    {{ check_embedding_size(model) }}
    {%- do log('text_embeddings: embedding the new distinct behaviour texts of model '
        ~ model.model_version ~ ' (' ~ model.precision ~ ')', info=true) %}
{%- endif %}

with

encoder as materialized (
    select clv_encoder_fingerprint() as encoder_fingerprint
),

texts_in_use as (
    {{ texts_in_use() }}
),

new_texts as materialized (
    select
        texts_in_use.behaviour_text,
        texts_in_use.text_hash
    from texts_in_use
    {%- if is_incremental() %}
        left join {{ this }} as existing
            on
                texts_in_use.text_hash = existing.text_hash
                and existing.encoder_fingerprint = (select encoder.encoder_fingerprint from encoder)
        where existing.text_hash is null
    {%- endif %}
    {%- if not model.get('uses_text', true) %}
        {{ 'and' if is_incremental() else 'where' }} false
    {%- endif %}
),

final as (
    select
        new_texts.text_hash,
        (select encoder.encoder_fingerprint from encoder) as encoder_fingerprint,
        clv_embed(new_texts.behaviour_text) as embedding,
        (select max(texts_in_use.as_of_date) from texts_in_use) as last_used_on,
        cast(current_timestamp as timestamp) as embedded_at
    from new_texts
    order by length(new_texts.behaviour_text)
)

select * from final
