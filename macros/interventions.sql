{#- Interventions with holdout groups (models/marts/interventions): where the campaigns come
    from, the deterministic arm of a customer, and the confidence intervals of the outcomes. -#}

{% macro campaign_holdout_draw(campaign_id, customer_id) -%}
    {#- The customer's uniform draw in [0, 1) for a campaign: the first 8 hex digits of
        md5('<campaign_id>|<customer_id>') as an integer / 2^32. Below the holdout share means
        holdout. The Python twin is shopdata.campaigns.holdout_draw (tests keep both equal). -#}
    cast('0x' || left(md5({{ campaign_id }} || '|' || {{ customer_id }}), 8) as ubigint)
    / 4294967296.0
{%- endmacro %}

{% macro campaigns_file_path() -%}
    {#- A shop may keep its campaigns with its raw export: <raw_path>/campaigns.<raw_format>
        replaces the seed campaigns when it exists. -#}
    {{ return(raw_file_path('campaigns')) }}
{%- endmacro %}

{% macro campaigns_file_exists() -%}
    {#- Whether <raw_path>/campaigns.<raw_format> exists; false at parse time (the seed's lineage
        is declared with depends_on either way). -#}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set matches = run_query(
        "select count(*) from glob(" ~ sql_string(campaigns_file_path()) ~ ")") -%}
    {{ return(matches.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro campaigns_file_reader() -%}
    {#- Every column of the campaigns file as text: campaign_config parses and checks them. The
        path enters SQL only through sql_string(). -#}
    {%- if setting('raw_format') == 'parquet' -%}
        read_parquet({{ sql_string(campaigns_file_path()) }})
    {%- else -%}
        read_csv(
            {{ sql_string(campaigns_file_path()) }}, header = true, all_varchar = true,
            delim = ',', quote = '"', escape = '"', strict_mode = false
        )
    {%- endif -%}
{%- endmacro %}

{% macro normal_quantile_975() -%}
    {#- The 97.5% quantile of the standard normal: a two-sided 95% interval (a double: as a
        decimal literal its powers overflow). -#}
    cast(1.959963984540054 as double)
{%- endmacro %}

{% macro t_quantile_975(df) -%}
    {#- The 97.5% quantile of Student's t with `df` (real, > 0) degrees of freedom, by the
        Cornish-Fisher expansion around the normal quantile z (Abramowitz & Stegun 26.7.5):
        within 0.004 of the exact value from 3 degrees of freedom on, within 1e-5 from 10.
        intervention_outcomes gives no interval below min_customers_per_arm(), so df >= 9. -#}
    {%- set z = normal_quantile_975() | trim -%}
    (
        {{ z }}
        + ({{ z }}^3 + {{ z }}) / (4 * ({{ df }}))
        + (5 * {{ z }}^5 + 16 * {{ z }}^3 + 3 * {{ z }}) / (96 * ({{ df }})^2)
        + (3 * {{ z }}^7 + 19 * {{ z }}^5 + 17 * {{ z }}^3 - 15 * {{ z }})
        / (384 * ({{ df }})^3)
        + (79 * {{ z }}^9 + 776 * {{ z }}^7 + 1482 * {{ z }}^5 - 1920 * {{ z }}^3 - 945 * {{ z }})
        / (92160 * ({{ df }})^4)
    )
{%- endmacro %}

{% macro min_customers_per_arm() -%}
    {#- Below this many customers in an arm, intervention_outcomes gives no confidence interval:
        the normal and Welch approximations need groups of some size. -#}
    10
{%- endmacro %}
