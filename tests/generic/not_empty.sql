{% test not_empty(model, message, at_scoring_cutoff=false) %}
    {#- Fails the build loudly when the model has no row (with at_scoring_cutoff: no row at the
        scoring cutoff, as_of_date): the query raises `message`, so dbt prints the cause and the
        fix, and `dbt build` skips everything downstream before it is overwritten. The error is
        raised in the filter, which dbt's failure count cannot prune away. -#}
    with counted as (
        select count(*) as row_count
        from {{ model }}
        {%- if at_scoring_cutoff %}
        where cutoff_date in (select cutoff_date from {{ ref('cutoffs') }} where is_scoring_cutoff)
        {%- endif %}
    )
    select row_count
    from counted
    where
        case
            when row_count = 0 then error({{ dbt.string_literal(message) }}) is null
            else false
        end
{% endtest %}
