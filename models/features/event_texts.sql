{#- Every distinct text an event before the latest cutoff refers to (products of its orders,
    reviews, views and carts; review texts; search queries), scrubbed, with its id: what
    event_text_embeddings embeds and customer_events.events.text_ids point at. -#}
with

latest_cutoff as (
    select max(cutoff_date) as cutoff_date from {{ ref('cutoffs') }}
),

sources as (
    {{ event_text_sources('(select latest_cutoff.cutoff_date from latest_cutoff)') }}
),

texts as (
    select distinct
        {{ event_text_id('text_kind', 'source_text') }} as text_id,
        text_kind,
        {#- The sequence model interface names this column `text`, a keyword. #}
        source_text as text  -- noqa: RF04
    from sources
    where source_text is not null
)

select * from texts
