{#- Building blocks of customer_behaviour_text (template v2). The PII scrubber is in
    scrub_text.sql. -#}

{% macro behaviour_text_version() -%}
    'v2'
{%- endmacro %}

{% macro text_token_budget() -%}
    {#- The var text_token_budget (MiniLM tokens, [CLS]/[SEP] included), validated: an integer
        from 24 to 512. 64 suits the CPU default; 128 or 256 on a GPU let more clauses in. -#}
    {%- set budget = setting('text_token_budget') | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{1,4}', budget)
        or budget | int < 24 or budget | int > 512 -%}
        {{ exceptions.raise_compiler_error(
            "var text_token_budget must be a whole number of tokens from 24 to 512, got '"
            ~ budget ~ "'. Set e.g. CLV_TEXT_TOKEN_BUDGET=128."
        ) }}
    {%- endif -%}
    {{ budget | int }}
{%- endmacro %}

{% macro count_words(n) -%}
    {#- A count that reads on its own ("returned three", "dozens"): small counts as words,
        larger ones as rough sizes. -#}
    case
        when {{ n }} is null then null
        when {{ n }} <= 0 then 'none'
        when {{ n }} <= 10
            then ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
                  'ten'][cast({{ n }} as integer)]
        when {{ n }} < 20 then 'over ten'
        when {{ n }} < 100 then 'dozens'
        when {{ n }} < 1000 then 'hundreds'
        else 'thousands'
    end
{%- endmacro %}

{% macro counted_sql(n, singular_sql, plural_sql) -%}
    {#- A count with its noun, both SQL expressions: "one view", "three views", "dozens of
        views", "no views". -#}
    case
        when {{ n }} is null then null
        when {{ n }} <= 0 then 'no ' || {{ plural_sql }}
        when {{ n }} = 1 then 'one ' || {{ singular_sql }}
        when {{ n }} <= 10 then {{ count_words(n) }} || ' ' || {{ plural_sql }}
        when {{ n }} < 20 then 'over ten ' || {{ plural_sql }}
        else {{ count_words(n) }} || ' of ' || {{ plural_sql }}
    end
{%- endmacro %}

{% macro counted(n, singular, plural=none) -%}
    {#- counted_sql with a literal noun: counted('x', 'star') -> "two stars". -#}
    {{ counted_sql(n, "'" ~ singular ~ "'", "'" ~ (plural or singular ~ 's') ~ "'") }}
{%- endmacro %}

{% macro plural_words(phrase) -%}
    {#- English plural of a short noun phrase (its last word); one ending in s is kept. -#}
    case
        when regexp_matches({{ phrase }}, 's$') then {{ phrase }}
        when regexp_matches({{ phrase }}, '(x|ch|sh|z)$') then {{ phrase }} || 'es'
        when regexp_matches({{ phrase }}, '[^aeiou]y$') then left({{ phrase }}, -1) || 'ies'
        else {{ phrase }} || 's'
    end
{%- endmacro %}

{% macro quantity_words(quantity, label) -%}
    {#- "a cookbook", "an item", "three compact discs", "dozens of face creams"; no article
        before a name that reads plural ("coffee beans"). -#}
    case
        when {{ quantity }} = 1
            then case
                when regexp_matches({{ label }}, '[^s]s$') then ''
                when regexp_matches({{ label }}, '^[aeiou]') then 'an '
                else 'a '
            end || {{ label }}
        else {{ counted_sql(quantity, label, plural_words(label)) }}
    end
{%- endmacro %}

{% macro word_list(items) -%}
    {#- A SQL list of phrases as English: "a", "a and b", "a, b and c". -#}
    case
        when len({{ items }}) <= 1 then {{ items }}[1]
        else array_to_string({{ items }}[1:-2], ', ') || ' and ' || {{ items }}[-1]
    end
{%- endmacro %}

{% macro days_ago_words(days) -%}
    {#- A duration in days as a coarse English phrase. -#}
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

{% macro estimated_tokens(clause) -%}
    {#- A cautious estimate of a clause's all-MiniLM-L6-v2 WordPiece tokens: one per word plus
        one per three letters beyond the third (rare words split into pieces), one per
        punctuation mark. On CDNOW, the synthetic shop and Complete Journey at most 0.04% of
        the texts exceed the budget (benchmarks/token_lengths.py measures it). -#}
    (
        list_sum(list_transform(
            string_split({{ clause }}, ' '),
            lambda word: 1 + greatest(length(regexp_replace(word, '[^a-z]', '', 'g')) - 3, 0) // 3
        ))
        + length(regexp_replace({{ clause }}, '[^.,:;!?''-]', '', 'g'))
    )
{%- endmacro %}

{% macro clause(priority, position, text) -%}
    {#- One clause of the paragraph: priority 1 is kept first under the budget, position orders
        the clauses in the text. `text` must be a column (it is evaluated twice). -#}
    struct_pack(
        priority := {{ priority }},
        position := {{ position }},
        text := {{ text }},
        tokens := {{ estimated_tokens(text) }}
    )
{%- endmacro %}

{% macro fit_clauses(clauses, budget) -%}
    {#- Join the clauses (a list of clause(...)) in position order, keeping them by priority
        while their estimated tokens fit `budget` (+2 for [CLS]/[SEP]); whole clauses are
        dropped from the least important end, never cut. The most important clause is always
        kept. -#}
    list_transform(
        [list_sort(list_filter({{ clauses }}, lambda c: c.text is not null))],
        lambda ranked: array_to_string(
            list_transform(
                list_sort(list_transform(
                    list_filter(
                        range(1, len(ranked) + 1),
                        lambda i: i = 1 or list_sum(
                            list_transform(ranked[1:i], lambda c: c.tokens)
                        ) + 2 <= {{ budget }}
                    ),
                    lambda i: struct_pack(position := ranked[i].position, text := ranked[i].text)
                )),
                lambda c: c.text
            ),
            ' '
        )
    )[1]
{%- endmacro %}

{% macro view_event_types() -%}
    ('view', 'page_view', 'product_view')
{%- endmacro %}

{% macro cart_event_types() -%}
    ('add_to_cart', 'cart', 'add_to_basket')
{%- endmacro %}

{% macro campaign_event_types() -%}
    {#- Marketing touches a customer received (campaign mailings, offers, coupons handed out). -#}
    ('campaign', 'campaign_received', 'campaign_sent', 'email_campaign', 'promotion', 'promo',
     'newsletter', 'coupon_received', 'coupon_issued', 'coupon_sent')
{%- endmacro %}

{% macro coupon_event_types() -%}
    {#- Coupons a customer redeemed. -#}
    ('coupon', 'coupon_redeemed', 'coupon_redemption', 'coupon_used', 'redemption')
{%- endmacro %}
