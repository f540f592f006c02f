{% macro months_in(days_setting) -%}
    {#- A day-count setting in whole months (30.4375 days = 365.25 / 12), at least 1. -#}
    greatest(1, round({{ setting(days_setting) }} / 30.4375))
{%- endmacro %}

{% macro discounted_lifetime_value(horizon_revenue, churn_probability) -%}
    {#- Discounted lifetime value, sum over months t = 1..T of margin x R_t / (1 + r)^t, with
        r = discount_rate_monthly, T = lifetime_months, margin = gross_margin (README "Lifetime
        value"). Assumption: the predicted horizon revenue is spread evenly over the H months of
        horizon_days (R_t = revenue / H for t <= H); after the horizon it decays with the
        predicted retention, R_t = (revenue / H) x s^(t - H), where the monthly survival
        s = (1 - churn_probability)^(1 / C) and C is churn_horizon_days in months. Closed form of
        the two geometric sums (d = 1 / (1 + r)):
            sum_{t=1..min(H,T)} d^t  and  d^H x sum_{k=1..T-H} (s d)^k. -#}
    {%- set h = months_in('horizon_days') -%}
    {%- set t = setting('lifetime_months') -%}
    {%- set d = '(1.0 / (1.0 + ' ~ setting('discount_rate_monthly') ~ '))' -%}
    {%- set s = 'power(greatest(0.0, 1.0 - ' ~ churn_probability ~ '), 1.0 / ' ~ months_in('churn_horizon_days') ~ ')' -%}
    {{ setting('gross_margin') }} * ({{ horizon_revenue }}) / {{ h }} * (
        {{ geometric_sum(d, 'least(' ~ h ~ ', ' ~ t ~ ')') }}
        + power({{ d }}, {{ h }})
        * {{ geometric_sum('(' ~ s ~ ' * ' ~ d ~ ')', 'greatest(0, ' ~ t ~ ' - ' ~ h ~ ')') }}
    )
{%- endmacro %}

{% macro geometric_sum(ratio, terms) -%}
    {#- sum_{k=1..terms} ratio^k for 0 <= ratio <= 1 (terms when ratio = 1). -#}
    (case
        when {{ ratio }} >= 1.0 then {{ terms }}
        else {{ ratio }} * (1.0 - power({{ ratio }}, {{ terms }})) / (1.0 - {{ ratio }})
    end)
{%- endmacro %}

{% macro spend_tier_name(tier) -%}
    {#- The name of spend tier 1..5 (quintiles of expected_spend_if_active, 5 = highest). -#}
    case {{ tier }}
        when 5 then 'top'
        when 4 then 'high'
        when 3 then 'middle'
        when 2 then 'low'
        when 1 then 'lowest'
    end
{%- endmacro %}
