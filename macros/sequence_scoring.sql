{% macro with_event_embeddings(model, rows, cutoff_column) -%}
    {#- `rows` (a CTE with customer_id and `cutoff_column`) with the `embedding` of a sequence
        model: clv_embed_events() of the customer's events at that cutoff (customer_events),
        each event carrying the model's vectors of its texts (event_text_vectors) when the
        model reads event texts. A row without its customer_events row stops the build (the
        tables were built apart). -#}
    {%- set events = ref('customer_events') -%}
    {%- set text_vectors = ref('event_text_vectors') -%}
    {%- set fields = 'event_type, days_before_cutoff, gap_days, amount, quantity' -%}
    select
        {{ rows }}.*,
        case
            when sequences.events is not null then clv_embed_events(sequences.events)
            else error(
                'customer_events has no row for customer ' || {{ rows }}.customer_id
                || ' at ' || cast({{ rows }}.{{ cutoff_column }} as varchar) || '. Rebuild the '
                || 'features: dbt build --select +customer_scores.'
            )
        end as embedding
    from {{ rows }}
    left join (
        {%- if model.get('uses_event_text') %}
            with wanted as (
                select distinct
                    customer_id,
                    {{ cutoff_column }} as cutoff_date
                from {{ rows }}
            ),

            flat_events as (
                select
                    customer_events.customer_id,
                    customer_events.cutoff_date,
                    unnest(customer_events.events) as event,
                    generate_subscripts(customer_events.events, 1) as position
                from {{ events }} as customer_events
                inner join wanted
                    on
                        customer_events.customer_id = wanted.customer_id
                        and customer_events.cutoff_date = wanted.cutoff_date
            ),

            event_texts as (
                select
                    customer_id,
                    cutoff_date,
                    position,
                    unnest(event.text_ids) as text_id,
                    unnest(event.text_weights) as weight
                from flat_events
            ),

            pooled as (
                select
                    event_texts.customer_id,
                    event_texts.cutoff_date,
                    event_texts.position,
                    list(
                        struct_pack(
                            vector := event_text_vectors.text_vector,
                            weight := cast(event_texts.weight as double)
                        )
                    ) as text_vectors
                from event_texts
                left join {{ text_vectors }} as event_text_vectors
                    on event_texts.text_id = event_text_vectors.text_id
                group by event_texts.customer_id, event_texts.cutoff_date, event_texts.position
            )

            select
                flat_events.customer_id,
                flat_events.cutoff_date,
                list(
                    struct_pack(
                        event_type := flat_events.event.event_type,
                        days_before_cutoff := cast(flat_events.event.days_before_cutoff as double),
                        gap_days := cast(flat_events.event.gap_days as double),
                        amount := cast(flat_events.event.amount as double),
                        quantity := cast(flat_events.event.quantity as double),
                        text_vectors := coalesce(pooled.text_vectors, [])
                    )
                    order by flat_events.position
                ) as events
            from flat_events
            left join pooled
                on
                    flat_events.customer_id = pooled.customer_id
                    and flat_events.cutoff_date = pooled.cutoff_date
                    and flat_events.position = pooled.position
            group by flat_events.customer_id, flat_events.cutoff_date
        {%- else %}
            select
                customer_id,
                cutoff_date,
                list_transform(
                    events,
                    lambda e: struct_pack(
                        event_type := e.event_type,
                        days_before_cutoff := cast(e.days_before_cutoff as double),
                        gap_days := cast(e.gap_days as double),
                        amount := cast(e.amount as double),
                        quantity := cast(e.quantity as double)
                    )
                ) as events
            from {{ events }}
        {%- endif %}
    ) as sequences
        on
            {{ rows }}.customer_id = sequences.customer_id
            and {{ rows }}.{{ cutoff_column }} = sequences.cutoff_date
{%- endmacro %}

{% macro event_history_hash(model, customer_id, cutoff_date) -%}
    {#- md5 of a customer's events at a cutoff for a sequence model (a changed history
        rescores the customer even when no numeric feature moved); '' for other models. -#}
    {%- if model.get('uses_events') -%}
        coalesce((
            select md5(cast(customer_events.events as varchar))
            from {{ ref('customer_events') }} as customer_events
            where
                customer_events.customer_id = {{ customer_id }}
                and customer_events.cutoff_date = {{ cutoff_date }}
        ), '')
    {%- else -%}
        ''
    {%- endif -%}
{%- endmacro %}

{% macro check_event_text_encoder(model) -%}
    {#- A model that reads event texts was trained on the embeddings of one event text encoder:
        the warehouse's (setting event_text_encoder) must be the same, and its sequence length
        the model's (setting event_sequence_length). Each error names both sides and the fix. -#}
    {%- if execute and model.get('uses_events') and not model.get('placeholder') -%}
        {%- set where = "Model " ~ model.model_version ~ " (" ~ model.path ~ "/config.json)" -%}
        {%- if model.event_sequence_length | int != setting('event_sequence_length') | int -%}
            {{ exceptions.raise_compiler_error(
                where ~ " reads the last " ~ model.event_sequence_length ~ " events, the "
                ~ "warehouse keeps " ~ setting('event_sequence_length')
                ~ " (setting event_sequence_length, env CLV_EVENT_SEQUENCE_LENGTH). Set it back "
                ~ "and rebuild the features, or retrain with `make train`.") }}
        {%- endif -%}
        {%- if model.get('uses_event_text') -%}
            {%- set current = run_query('select clv_event_encoder_fingerprint()').columns[0].values()[0] -%}
            {%- if current != model.event_text_encoder_fingerprint -%}
                {{ exceptions.raise_compiler_error(
                    where ~ " was trained on event-text embeddings of encoder "
                    ~ model.event_text_encoder_fingerprint[:12] ~ ", the warehouse's event text "
                    ~ "encoder (setting event_text_encoder, env CLV_EVENT_TEXT_ENCODER) is "
                    ~ current[:12] ~ ". Point the setting at the model's encoder, or rebuild "
                    ~ "the features and retrain with `make train`.") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
