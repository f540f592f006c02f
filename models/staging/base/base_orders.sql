{#- Every raw order row, typed, with the reason it is quarantined (null when clean). -#}
with

raw_orders as (
    {{ raw_table('orders') }}
),

{{ known_customers_ctes() }},

typed as (
    select {{ typed_columns('orders') }}
    from raw_orders
),

checked as (
    select
        typed.*,
        case
            when typed.order_id is null then 'null_order_id'
            when typed.customer_id is null then 'null_customer_id'
            {{ timestamp_checks('ordered_at') }}
            {{ amount_checks('order_total') }}
            when
                typed.status is null
                or typed.status not in ('completed', 'returned', 'cancelled')
                then 'invalid_status'
            {{ unknown_customer_check() }}
        end as invalid_reason
    from typed
    {{ join_known_customers() }}
),

amount_bound as (
    {#- The shop's bound for a plausible amount: factor x p99 of positive valid order totals.
        A quantile, so up to 1% of orders can be absurd without moving it; null without
        positive orders (then nothing is implausible). -#}
    select
        {{ implausible_amount_factor() }}
        * quantile_cont(order_total, 0.99) as max_plausible_amount
    from checked
    where invalid_reason is null and order_total > 0
),

bounded as (
    select
        checked.* exclude (invalid_reason),
        amount_bound.max_plausible_amount,
        coalesce(
            checked.invalid_reason,
            case
                when checked.order_total > amount_bound.max_plausible_amount
                    then 'implausible_order_total'
            end
        ) as invalid_reason
    from checked
    cross join amount_bound
),

deduplicated as (
    select
        *,
        {{ rejection_reason(
            ['order_id'],
            ['ordered_at', 'order_total', 'status', 'customer_id'],
            'duplicate_order_id',
        ) }}
    from bounded
)

select
    order_id,
    customer_id,
    ordered_at,
    order_total,
    status,
    max_plausible_amount,
    rejection_reason,
    {{ rejected_raw_columns('orders') }}
from deduplicated
