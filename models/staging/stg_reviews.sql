with

base as (
    select * from {{ ref('base_reviews') }}
),

clean as (
    select
        customer_id,
        product_id,
        reviewed_at,
        rating,
        review_text,
        is_review_text_cut
    from base
    where rejection_reason is null
)

select * from clean
