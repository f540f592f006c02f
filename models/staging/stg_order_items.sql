with

base as (
    select * from {{ ref('base_order_items') }}
),

lines as (
    {#- Repeated lines of one product in one order (an export with one line per scan or per
        discount) are one purchase of the summed quantity. -#}
    select
        order_id,
        product_id,
        cast(sum(quantity) as bigint) as quantity,
        round(sum(quantity * unit_price) / sum(quantity), 6) as unit_price,
        count(*) as raw_lines
    from base
    where rejection_reason is null
    group by order_id, product_id
)

select * from lines
