with

raw_reviews as (
    {{ raw_table(
        'reviews',
        ['customer_id', 'product_id', 'reviewed_at', 'rating', 'review_text'],
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
        {{ clean_id('customer_id') }} as customer_id,
        {{ clean_id('product_id') }} as product_id,
        try_cast(reviewed_at as timestamp) as reviewed_at,
        try_cast(rating as double) as rating,
        cast(review_text as varchar) as review_text,
        {{ keep_raw('customer_id') }},
        {{ keep_raw('product_id') }},
        {{ keep_raw('reviewed_at') }},
        {{ keep_raw('rating') }},
        {{ keep_raw('review_text') }},
        {{ is_unparseable('reviewed_at', 'timestamp') }} as is_reviewed_at_unparseable,
        {{ is_unparseable('rating', 'double') }} as is_rating_unparseable
    from raw_reviews
),

checked as (
    select
        typed.*,
        case
            when typed.customer_id is null then 'null_customer_id'
            when typed.is_reviewed_at_unparseable then 'unparseable_reviewed_at'
            when typed.reviewed_at is null then 'null_reviewed_at'
            when {{ is_out_of_range_timestamp('typed.reviewed_at') }}
                then 'out_of_range_reviewed_at'
            when typed.reviewed_at > {{ max_valid_timestamp() }} then 'future_reviewed_at'
            when typed.is_rating_unparseable then 'unparseable_rating'
            when
                typed.rating is null
                or typed.rating not in (1, 2, 3, 4, 5)
                then 'rating_out_of_range'
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
                        partition by invalid_reason is null, customer_id, product_id, reviewed_at
                        order by rating, review_text
                    ) > 1
                    then 'duplicate_review'
            end
        ) as rejection_reason
    from checked
)

select
    customer_id,
    product_id,
    reviewed_at,
    cast(rating as integer) as rating,
    review_text,
    rejection_reason,
    {{ rejected_raw_columns(
        ['customer_id', 'product_id', 'reviewed_at', 'rating', 'review_text']
    ) }}
from deduplicated
