{% test reconciles_with_raw(model, raw_table) %}
    {#- Nothing disappears on the way in: every raw row has a row in this base_<table> model
        (clean, or quarantined with its rejection_reason). Reads only the raw source and the
        model, so `--select +X` can run it on a fresh warehouse. -#}
    with counts as (
        select
            (select count(*) from ({{ raw_table_rows(raw_table) }}) as raw_rows) as raw_rows,
            (select count(*) from {{ model }}) as base_rows
    )
    select * from counts
    where raw_rows != base_rows
{% endtest %}

{% test reconciles_with_base(model, base, raw_rows_column=none) %}
    {#- Every clean row of `base` (rejection_reason null) is in this stg_<table> model: its row
        count equals the clean base rows, or, when staging merges rows, the sum of
        `raw_rows_column`. `base` is upstream of the model, so no selection runs this test on
        a half-built warehouse. -#}
    with counts as (
        select
            (select count(*) from {{ base }} where rejection_reason is null) as clean_base_rows,
            (
                select
                {%- if raw_rows_column %}
                    coalesce(sum({{ raw_rows_column }}), 0)
                {%- else %}
                    count(*)
                {%- endif %}
                from {{ model }}
            ) as staged_rows
    )
    select * from counts
    where clean_base_rows != staged_rows
{% endtest %}
