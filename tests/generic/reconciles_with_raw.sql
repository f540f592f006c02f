{% test reconciles_with_raw(model, raw_table, rejected) %}
    {#- Nothing disappears: raw rows = clean rows (this model) + quarantined rows. -#}
    with counts as (
        select
            (select count(*) from ({{ raw_table_rows(raw_table) }}) as raw_rows) as raw_rows,
            (select count(*) from {{ model }}) as clean_rows,
            (select count(*) from {{ rejected }}) as rejected_rows
    )
    select * from counts
    where raw_rows != clean_rows + rejected_rows
{% endtest %}
