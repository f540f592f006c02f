{#- Every raw product row, typed, with the reason it is quarantined (null when clean). -#}
with

raw_products as (
    {{ raw_table('products') }}
),

typed as (
    select {{ typed_columns('products') }}
    from raw_products
),

checked as (
    select
        typed.*,
        case when typed.product_id is null then 'null_product_id' end as invalid_reason
    from typed
),

deduplicated as (
    select
        *,
        {{ rejection_reason(
            ['product_id'], ['product_name', 'category'], 'duplicate_product_id',
        ) }}
    from checked
)

select
    product_id,
    product_name,
    category,
    rejection_reason,
    {{ rejected_raw_columns('products') }}
from deduplicated
