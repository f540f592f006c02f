with

raw_orders as (
    {{ raw_table(
        'orders',
        ['order_id', 'customer_id', 'ordered_at', 'order_total', 'status'],
        required=true,
    ) }}
),

customers as (
    {#- Every identified customer, even one whose own row is quarantined (e.g. a bad
        signed_up_at): that must not quarantine their whole history. -#}
    select distinct customer_id from {{ ref('int_customers_validated') }}
    where customer_id is not null
),

customers_known as (
    select count(*) > 0 as has_customers from customers
),

typed as (
    select
        {{ clean_id('order_id') }} as order_id,
        {{ clean_id('customer_id') }} as customer_id,
        try_cast(ordered_at as timestamp) as ordered_at,
        try_cast(order_total as double) as order_total,
        lower(trim(cast(status as varchar))) as status,
        {{ keep_raw('order_id') }},
        {{ keep_raw('customer_id') }},
        {{ keep_raw('ordered_at') }},
        {{ keep_raw('order_total') }},
        {{ keep_raw('status') }},
        {{ is_unparseable('ordered_at', 'timestamp') }} as is_ordered_at_unparseable,
        {{ is_unparseable('order_total', 'double') }} as is_order_total_unparseable
    from raw_orders
),

checked as (
    select
        typed.*,
        case
            when typed.order_id is null then 'null_order_id'
            when typed.customer_id is null then 'null_customer_id'
            when typed.is_ordered_at_unparseable then 'unparseable_ordered_at'
            when typed.ordered_at is null then 'null_ordered_at'
            when {{ is_out_of_range_timestamp('typed.ordered_at') }} then 'out_of_range_ordered_at'
            when typed.ordered_at > {{ max_valid_timestamp() }} then 'future_ordered_at'
            when typed.is_order_total_unparseable then 'unparseable_order_total'
            when typed.order_total is null then 'null_order_total'
            when not isfinite(typed.order_total) then 'non_finite_order_total'
            when typed.order_total < 0 then 'negative_order_total'
            when
                typed.status is null
                or typed.status not in ('completed', 'returned', 'cancelled')
                then 'invalid_status'
            when customers_known.has_customers and customers.customer_id is null
                then 'unknown_customer'
        end as invalid_reason
    from typed
    cross join customers_known
    left join customers
        on typed.customer_id = customers.customer_id
),

deduplicated as (
    select
        *,
        coalesce(
            invalid_reason,
            case
                when
                    row_number() over (
                        partition by invalid_reason is null, order_id
                        order by ordered_at, order_total, status, customer_id
                    ) > 1
                    then 'duplicate_order_id'
            end
        ) as rejection_reason
    from checked
)

select
    order_id,
    customer_id,
    ordered_at,
    order_total,
    status,
    rejection_reason,
    {{ rejected_raw_columns(
        ['order_id', 'customer_id', 'ordered_at', 'order_total', 'status']
    ) }}
from deduplicated
