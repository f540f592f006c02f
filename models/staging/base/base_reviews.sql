{#- Every raw review row, typed, with the reason it is quarantined (null when clean). -#}
with

raw_reviews as (
    {{ raw_table('reviews') }}
),

{{ known_customers_ctes() }},

typed as (
    select {{ typed_columns('reviews') }}
    from raw_reviews
),

checked as (
    select
        typed.*,
        case
            when typed.customer_id is null then 'null_customer_id'
            {{ timestamp_checks('reviewed_at') }}
            when typed.is_rating_unparseable then 'unparseable_rating'
            when
                typed.rating is null
                or typed.rating not in (1, 2, 3, 4, 5)
                then 'rating_out_of_range'
            {{ unknown_customer_check() }}
        end as invalid_reason
    from typed
    {{ join_known_customers() }}
),

deduplicated as (
    select
        *,
        {{ rejection_reason(
            ['customer_id', 'product_id', 'reviewed_at'],
            ['rating', 'review_text'],
            'duplicate_review',
        ) }}
    from checked
)

select
    customer_id,
    product_id,
    reviewed_at,
    cast(rating as integer) as rating,
    review_text,
    is_review_text_cut,
    rejection_reason,
    {{ rejected_raw_columns('reviews') }}
from deduplicated
