{% macro behaviour_text_version() -%}
    'v1'
{%- endmacro %}

{% macro count_words(n) -%}
    {#- Small counts as English words, larger ones as rough buckets. -#}
    case
        when {{ n }} is null then null
        when {{ n }} <= 10
            then ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
                  'ten'][cast({{ n }} as integer) + 1]
        when {{ n }} < 20 then 'a dozen'
        when {{ n }} < 50 then 'dozens of'
        when {{ n }} < 100 then 'many dozens of'
        else 'hundreds of'
    end
{%- endmacro %}

{% macro counted(n, singular, plural=none) -%}
    {#- "one item", "three items", "dozens of items". -#}
    {{ count_words(n) }} || ' ' || case
        when {{ n }} = 1 then '{{ singular }}'
        else '{{ plural or singular ~ "s" }}'
    end
{%- endmacro %}

{% macro nonzero_count(condition, singular, plural=none) -%}
    {#- "three views" for an aggregate count of rows matching `condition`; null when zero. -#}
    {%- set n = 'count(*) filter (where ' ~ condition ~ ')' -%}
    case when {{ n }} > 0 then {{ counted(n, singular, plural) }} end
{%- endmacro %}

{% macro days_ago_words(days) -%}
    {#- A duration in days as a short English phrase. -#}
    case
        when {{ days }} is null then null
        when {{ days }} <= 1 then 'a day'
        when {{ days }} < 7 then {{ count_words(days) }} || ' days'
        when {{ days }} < 14 then 'a week'
        when {{ days }} < 30
            then {{ count_words('floor(' ~ days ~ ' / 7)') }} || ' weeks'
        when {{ days }} < 60 then 'a month'
        when {{ days }} < 365
            then {{ count_words('floor(' ~ days ~ ' / 30)') }} || ' months'
        when {{ days }} < 730 then 'a year'
        else {{ count_words('floor(' ~ days ~ ' / 365)') }} || ' years'
    end
{%- endmacro %}

{% macro money_words(amount) -%}
    {#- An amount of money as a bucket, without currency. -#}
    case
        when {{ amount }} is null then null
        when {{ amount }} <= 0 then 'nothing'
        when {{ amount }} < 10 then 'under 10'
        when {{ amount }} < 20 then '10 to 20'
        when {{ amount }} < 50 then '20 to 50'
        when {{ amount }} < 100 then '50 to 100'
        when {{ amount }} < 250 then '100 to 250'
        when {{ amount }} < 500 then '250 to 500'
        when {{ amount }} < 1000 then '500 to 1000'
        else 'over 1000'
    end
{%- endmacro %}

{% macro cadence_words(mean_gap_days) -%}
    {#- How often a customer buys, from the mean gap between purchase days. -#}
    case
        when {{ mean_gap_days }} is null then 'only once'
        when {{ mean_gap_days }} < 10 then 'about weekly'
        when {{ mean_gap_days }} < 21 then 'every two weeks'
        when {{ mean_gap_days }} < 45 then 'about monthly'
        when {{ mean_gap_days }} < 75 then 'every two months'
        when {{ mean_gap_days }} < 120 then 'about quarterly'
        when {{ mean_gap_days }} < 240 then 'twice a year'
        else 'about yearly or less'
    end
{%- endmacro %}

{% macro scrub_text(text, max_words) -%}
    {#- PII-free, ASCII, lower-case words: drops e-mails, URLs, digits (phone numbers, ids) and
        anything non-alphabetic, then keeps the first max_words words. -#}
    nullif(
        array_to_string(
            string_split(
                trim(regexp_replace(
                    regexp_replace(
                        regexp_replace(
                            lower(strip_accents(left({{ text }}, 400))),
                            '(https?://|www[.])\S*|\S*@\S*', ' ', 'g'
                        ),
                        '[^a-z'' ]', ' ', 'g'
                    ),
                    '\s+', ' ', 'g'
                )),
                ' '
            )[1:{{ max_words }}],
            ' '
        ),
        ''
    )
{%- endmacro %}
