with

validated as (
    select * from {{ ref('int_reviews_validated') }}
),

clean as (
    select
        customer_id,
        product_id,
        reviewed_at,
        rating,
        review_text
    from validated
    where rejection_reason is null
)

select * from clean
