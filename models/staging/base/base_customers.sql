{#- Every raw customer row, typed, with the reason it is quarantined (null when clean). -#}
with

raw_customers as (
    {{ raw_table('customers') }}
),

typed as (
    select {{ typed_columns('customers') }}
    from raw_customers
),

checked as (
    select
        typed.*,
        case
            when typed.customer_id is null then 'null_customer_id'
            {{ timestamp_checks('signed_up_at', required=false) }}
        end as invalid_reason
    from typed
),

deduplicated as (
    select
        *,
        {{ rejection_reason(
            ['customer_id'],
            ['signed_up_at', 'country', 'acquisition_channel'],
            'duplicate_customer_id',
        ) }}
    from checked
)

select
    customer_id,
    signed_up_at,
    country,
    acquisition_channel,
    rejection_reason,
    {{ rejected_raw_columns('customers') }}
from deduplicated
