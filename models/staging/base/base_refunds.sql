{#- Every raw refund row, typed, with the reason it is quarantined (null when clean). -#}
with

raw_refunds as (
    {{ raw_table('refunds') }}
),

{{ known_customers_ctes() }},

orders as (
    {#- Valid orders only: a refund of a quarantined order would move revenue that features
        never saw. -#}
    select
        order_id,
        customer_id,
        ordered_at
    from {{ ref('base_orders') }}
    where rejection_reason is null
),

amount_bound as (
    {#- The same per-shop bound as orders (base_orders.max_plausible_amount). -#}
    select max(max_plausible_amount) as max_plausible_amount
    from {{ ref('base_orders') }}
),

typed as (
    select {{ typed_columns('refunds') }}
    from raw_refunds
),

checked as (
    select
        typed.*,
        case
            when typed.refund_id is null then 'null_refund_id'
            when typed.customer_id is null then 'null_customer_id'
            {{ timestamp_checks('refunded_at') }}
            {{ amount_checks('amount') }}
            when typed.amount > amount_bound.max_plausible_amount then 'implausible_amount'
            {{ unknown_customer_check() }}
            when typed.order_id is not null and orders.order_id is null then 'unknown_order'
            when typed.order_id is not null and orders.customer_id != typed.customer_id
                then 'order_customer_mismatch'
            when typed.refunded_at < orders.ordered_at then 'refund_before_order'
        end as invalid_reason
    from typed
    cross join amount_bound
    {{ join_known_customers() }}
    left join orders
        on typed.order_id = orders.order_id
),

deduplicated as (
    select
        *,
        {{ rejection_reason(
            ['refund_id'],
            ['refunded_at', 'amount', 'customer_id', 'order_id'],
            'duplicate_refund_id',
        ) }}
    from checked
)

select
    refund_id,
    customer_id,
    refunded_at,
    amount,
    order_id,
    reason,
    rejection_reason,
    {{ rejected_raw_columns('refunds') }}
from deduplicated
