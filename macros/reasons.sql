{#- Reasons behind the scores (customer_score_reasons): the readable phrase of each driver of
    python_udfs.reasons.DRIVER_FEATURES, rendered from the customer's own feature values, and
    the thresholds below which an effect is no reason. Numbers are digits ("no purchase for 7
    months"), money has no currency sign (the shop's currency). -#}

{% macro reason_min_churn_effect() -%}
    {#- A driver is a churn reason when occluding it lowers churn_probability by at least this
        much (0.1 percentage point): smaller effects are noise, not reasons. -#}
    0.001
{%- endmacro %}

{% macro reason_min_clv_effect() -%}
    {#- A driver is a CLV reason when occluding it moves predicted_clv by at least this much
        (a hundredth of the currency unit). -#}
    0.01
{%- endmacro %}

{% macro reason_number(n) -%}
    {#- A whole number with thousands separators: 1,234. -#}
    format('{:,}', cast(round({{ n }}) as bigint))
{%- endmacro %}

{% macro reason_count(n, singular, plural=none) -%}
    {#- "1 order", "3 orders" (n rounded to a whole number first). -#}
    {{ reason_number(n) }} || ' ' || case
        when cast(round({{ n }}) as bigint) = 1 then '{{ singular }}'
        else '{{ plural or singular ~ "s" }}'
    end
{%- endmacro %}

{% macro reason_duration(days) -%}
    {#- A number of days as a rounded duration: "5 days", "3 weeks", "7 months", "2 years". -#}
    case
        when {{ days }} is null then null
        when {{ days }} < 14 then {{ reason_count(days, 'day') }}
        when {{ days }} < 60 then {{ reason_count(days ~ ' / 7', 'week') }}
        when {{ days }} < 730 then {{ reason_count(days ~ ' / 30.44', 'month') }}
        else {{ reason_count(days ~ ' / 365.25', 'year') }}
    end
{%- endmacro %}

{% macro reason_money(amount) -%}
    {#- An amount rounded to the unit: "40", "1,235". -#}
    {{ reason_number(amount) }}
{%- endmacro %}

{% macro reason_percent(share) -%}
    {#- A share in [0, 1] as a whole percent: "35%". -#}
    cast(cast(round(100 * {{ share }}) as bigint) as varchar) || '%'
{%- endmacro %}

{% macro reason_text_excerpt(text, length=60) -%}
    {#- The start of the behaviour text, cut at a word, with an ellipsis when cut. -#}
    case
        when length({{ text }}) <= {{ length }} then {{ text }}
        else regexp_replace(left({{ text }}, {{ length }}), '\s+\S*$', '') || '…'
    end
{%- endmacro %}

{% macro reason_phrase(driver, f) -%}
    {#- The phrase of `driver` (a SQL expression) for the customer whose features are the
        columns of relation alias `f`. Every driver of python_udfs.reasons has a branch; an
        unknown one reads as its name, so nothing is silently blank. -#}
    case {{ driver }}
        when 'recency' then case
            when {{ f }}.recency_days >= 60
                then 'no purchase for ' || {{ reason_duration(f ~ '.recency_days') }}
            else 'last purchase ' || {{ reason_duration(f ~ '.recency_days') }} || ' ago'
        end
        when 'recent_trend' then case
            when coalesce({{ f }}.purchases_last_365d, 0) = 0 then 'no purchase in the last year'
            when coalesce({{ f }}.tenure_days, 0) < 365 then 'recent purchases: '
            {#- The last 3 months against the 9 before: under 60% of their quarterly pace is
                less, over 150% more. -#}
            when {{ f }}.purchases_last_90d * 5
                < {{ f }}.purchases_last_365d - {{ f }}.purchases_last_90d
                then 'buying less lately: '
            when {{ f }}.purchases_last_90d * 2
                > {{ f }}.purchases_last_365d - {{ f }}.purchases_last_90d
                then 'buying more lately: '
            else 'buying steadily: '
        end || case
            when coalesce({{ f }}.purchases_last_365d, 0) = 0 then ''
            else
                {{ reason_number(f ~ '.purchases_last_90d') }} || ' in the last 3 months, '
                || {{ reason_count(f ~ '.purchases_last_365d', 'purchase') }} || ' in the year'
        end
        when 'frequency' then case
            when coalesce({{ f }}.frequency, 0) <= 1 then 'only 1 purchase so far'
            else
                {{ reason_count(f ~ '.frequency', 'purchase') }} || ' in '
                || {{ reason_duration(f ~ '.tenure_days') }}
        end
        when 'spend' then
            'spends about ' || {{ reason_money(f ~ '.monetary_mean') }} || ' per purchase, '
            || {{ reason_money(f ~ '.net_monetary_total') }} || ' in total'
        when 'rhythm' then case
            when {{ f }}.mean_gap_days is null then 'no repeat purchase yet'
            else
                'buys about every ' || {{ reason_duration(f ~ '.mean_gap_days') }}
                || ', longest break ' || {{ reason_duration(f ~ '.max_gap_days') }}
        end
        when 'returns' then coalesce(nullif(concat_ws(
            ', ',
            case
                when {{ f }}.returned_orders > 0
                    then 'returned ' || {{ reason_number(f ~ '.returned_orders') }} || ' of '
                    || {{ reason_count(f ~ '.orders', 'order') }}
            end,
            case
                when {{ f }}.cancelled_orders > 0
                    then 'cancelled ' || {{ reason_number(f ~ '.cancelled_orders') }} || ' of '
                    || {{ reason_count(f ~ '.orders', 'order') }}
            end,
            case
                when {{ f }}.refunds > 0 then 'got ' || {{ reason_count(f ~ '.refunds', 'refund') }}
            end
        ), ''), 'no returns, cancellations or refunds')
        when 'tenure' then 'customer for ' || {{ reason_duration(f ~ '.tenure_days') }}
        when 'cohort_standing' then coalesce(
            'spent more than ' || {{ reason_percent(f ~ '.revenue_percentile_in_cohort') }}
            || ' of the customers who started the same month',
            'spend not comparable with the customers who started the same month'
        )
        when 'cohort' then
            'started in ' || coalesce(strftime({{ f }}.cohort_month, '%B %Y'), 'an unknown month')
            || coalesce(
                ', when ' || {{ reason_percent(f ~ '.cohort_repeat_rate') }}
                || ' of new customers bought again',
                ''
            )
        when 'behaviour_text' then
            'what the history says: "' || {{ reason_text_excerpt(f ~ '.behaviour_text') }} || '"'
        when 'event_history' then 'the order and timing of recent events'
        when 'other_features' then 'other features'
        else {{ driver }}
    end
{%- endmacro %}
