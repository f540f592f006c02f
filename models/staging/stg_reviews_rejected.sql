with

validated as (
    select * from {{ ref('int_reviews_validated') }}
),

rejected as (
    select
        rejection_reason,
        raw_customer_id as customer_id,
        raw_product_id as product_id,
        raw_reviewed_at as reviewed_at,
        raw_rating as rating,
        raw_review_text as review_text
    from validated
    where rejection_reason is not null
)

select * from rejected
