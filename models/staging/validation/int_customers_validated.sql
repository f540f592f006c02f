with

raw_customers as (
    {{ raw_table('customers', ['customer_id', 'signed_up_at', 'country', 'acquisition_channel']) }}
),

typed as (
    select
        {{ clean_id('customer_id') }} as customer_id,
        try_cast(signed_up_at as timestamp) as signed_up_at,
        coalesce(lower({{ clean_id('country') }}), 'unknown') as country,
        coalesce(lower({{ clean_id('acquisition_channel') }}), 'unknown') as acquisition_channel,
        {{ keep_raw('customer_id') }},
        {{ keep_raw('signed_up_at') }},
        {{ keep_raw('country') }},
        {{ keep_raw('acquisition_channel') }},
        {{ is_unparseable('signed_up_at', 'timestamp') }} as is_signed_up_at_unparseable
    from raw_customers
),

checked as (
    select
        *,
        case
            when customer_id is null then 'null_customer_id'
            when is_signed_up_at_unparseable then 'unparseable_signed_up_at'
            when {{ is_out_of_range_timestamp('signed_up_at') }} then 'out_of_range_signed_up_at'
            when signed_up_at > {{ max_valid_timestamp() }} then 'future_signed_up_at'
        end as invalid_reason
    from typed
),

deduplicated as (
    select
        *,
        coalesce(
            invalid_reason,
            case
                when
                    row_number() over (
                        partition by invalid_reason is null, customer_id
                        order by signed_up_at, country, acquisition_channel
                    ) > 1
                    then 'duplicate_customer_id'
            end
        ) as rejection_reason
    from checked
)

select
    customer_id,
    signed_up_at,
    country,
    acquisition_channel,
    rejection_reason,
    {{ rejected_raw_columns(
        ['customer_id', 'signed_up_at', 'country', 'acquisition_channel']
    ) }}
from deduplicated
