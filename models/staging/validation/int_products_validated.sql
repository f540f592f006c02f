with

raw_products as (
    {{ raw_table('products', ['product_id', 'product_name', 'category']) }}
),

typed as (
    select
        {{ clean_id('product_id') }} as product_id,
        coalesce({{ clean_id('product_name') }}, 'unnamed product') as product_name,
        coalesce(lower({{ clean_id('category') }}), 'uncategorised') as category,
        {{ keep_raw('product_id') }},
        {{ keep_raw('product_name') }},
        {{ keep_raw('category') }}
    from raw_products
),

checked as (
    select
        *,
        case when product_id is null then 'null_product_id' end as invalid_reason
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
                        partition by invalid_reason is null, product_id
                        order by product_name, category
                    ) > 1
                    then 'duplicate_product_id'
            end
        ) as rejection_reason
    from checked
)

select
    product_id,
    product_name,
    category,
    rejection_reason,
    {{ rejected_raw_columns(['product_id', 'product_name', 'category']) }}
from deduplicated
