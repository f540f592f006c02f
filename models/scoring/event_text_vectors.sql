{#- One row per event text the loaded model reads: the model's projection of the text's frozen
    embedding (clv_event_text_vector, one small linear map per text, no encoder work: the
    encoder ran once per text in event_text_embeddings). customer_scores pools these vectors
    per event. Only the texts of the events at as_of_date and at the latest training cutoff
    (backtest_scores); empty for a model that reads no event text. -#}
{%- set model = clv_model_info() -%}
{{ check_clv_model(model) }}
{{ check_event_text_encoder(model) }}
-- depends_on: {{ ref('event_text_embeddings') }}

with

scored_cutoffs as (
    select max(cutoff_date) as cutoff_date from {{ ref('customer_features') }}
    union
    select max(cutoff_date) as cutoff_date from {{ ref('training_examples') }}
),

texts_in_use as (
    select distinct unnest(customer_event.text_ids) as text_id
    from (
        select unnest(customer_events.events) as customer_event
        from {{ ref('customer_events') }} as customer_events
        inner join scored_cutoffs
            on customer_events.cutoff_date = scored_cutoffs.cutoff_date
    ) as events
),

final as (
    select
        texts_in_use.text_id,
        {%- if model.get('uses_event_text') %}
            case
                when embeddings.embedding is not null
                    then clv_event_text_vector(embeddings.embedding)
                else error(
                    'event_text_embeddings has no embedding of event text ' || texts_in_use.text_id
                    || ' for the event text encoder of model ' || clv_model_version()
                    || '. Rebuild the features: dbt build --select +event_text_embeddings.'
                )
            end as text_vector
        {%- else %}
            cast(null as float[1]) as text_vector
        {%- endif %}
    from texts_in_use
    {%- if model.get('uses_event_text') %}
        left join {{ ref('event_text_embeddings') }} as embeddings
            on
                texts_in_use.text_id = embeddings.text_id
                and embeddings.encoder_fingerprint = (select clv_event_encoder_fingerprint())
    {%- else %}
        where false
    {%- endif %}
)

select * from final
