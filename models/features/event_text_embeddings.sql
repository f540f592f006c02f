{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
) }}
{#- One row per (event text, encoder): the base LM's embedding (clv_embed_event_text, the
    plugin's python_udfs.event_encoder; setting event_text_encoder), computed once: a run
    embeds only the texts of event_texts without a row for the current encoder fingerprint.
    With no new text (or no text at all, e.g. CDNOW) the query selects nothing, so neither
    UDF is called and the encoder is never loaded. -#}
{%- set new_texts = new_event_text_count() %}

with

encoder as materialized (
    {%- if new_texts == 0 %}
        select cast(null as varchar) as encoder_fingerprint
    {%- else %}
        select clv_event_encoder_fingerprint() as encoder_fingerprint
    {%- endif %}
),

new_texts as materialized (
    select
        texts.text_id,
        texts.text
    from {{ ref('event_texts') }} as texts
    {%- if is_incremental() %}
        left join {{ this }} as existing
            on
                texts.text_id = existing.text_id
                and existing.encoder_fingerprint = (select encoder.encoder_fingerprint from encoder)
    {%- endif %}
    where
        {{ 'existing.text_id is null' if is_incremental() else 'true' }}
        and {{ 'true' if new_texts > 0 else 'false' }}
),

final as (
    select
        new_texts.text_id,
        (select encoder.encoder_fingerprint from encoder) as encoder_fingerprint,
        clv_embed_event_text(new_texts.text) as embedding,
        cast(current_timestamp as timestamp) as embedded_at
    from new_texts
    order by length(new_texts.text), new_texts.text_id
)

select * from final
