{#- One short English paragraph per customer and cutoff, most recent activity first. Numbers are
    words or buckets (exact values live in customer_rfm); free text is scrubbed of PII. -#}
with

cutoffs as (
    select cutoff_date from {{ ref('cutoffs') }}
),

customer_rfm as (
    select
        customer_id,
        cutoff_date,
        recency_days,
        tenure_days,
        frequency,
        purchase_days,
        mean_gap_days,
        monetary_mean,
        returned_orders
    from {{ ref('customer_rfm') }}
),

orders as (
    select
        order_id,
        customer_id,
        ordered_at,
        order_date,
        order_total,
        status
    from {{ ref('stg_orders') }}
),

order_items as (
    select
        order_id,
        product_id,
        quantity,
        unit_price
    from {{ ref('stg_order_items') }}
),

products as (
    {#- Catalogue text is scrubbed like any free text before it reaches the model. -#}
    select
        product_id,
        coalesce({{ scrub_text('category', 3) }}, 'other') as category
    from {{ ref('stg_products') }}
),

events as (
    select
        customer_id,
        event_at,
        event_type,
        product_id,
        search_query
    from {{ ref('stg_events') }}
),

reviews as (
    select
        customer_id,
        reviewed_at,
        rating,
        review_text
    from {{ ref('stg_reviews') }}
),

order_contents as (
    select
        order_items.order_id,
        cast(sum(order_items.quantity) as bigint) as items,
        {#- Ties are broken by name: every aggregate here is deterministic. -#}
        
        first(
            coalesce(products.category, 'other')
            order by
                order_items.quantity * order_items.unit_price desc,
                coalesce(products.category, 'other')
        ) as top_category
    from order_items
    left join products
        on order_items.product_id = products.product_id
    group by order_items.order_id
),

recent_orders as (
    select
        cutoffs.cutoff_date,
        orders.customer_id,
        orders.ordered_at,
        cutoffs.cutoff_date - orders.order_date as days_ago,
        orders.status,
        order_contents.items,
        order_contents.top_category
    from cutoffs
    inner join orders
        on cutoffs.cutoff_date > orders.ordered_at
    left join order_contents
        on orders.order_id = order_contents.order_id
    qualify row_number() over (
        partition by cutoffs.cutoff_date, orders.customer_id
        order by orders.ordered_at desc, orders.order_id desc
    ) <= 2
),

recent_order_phrases as (
    select
        cutoff_date,
        customer_id,
        'ordered ' || string_agg(
            concat_ws(
                ' ',
                {{ days_ago_words('days_ago') }} || ' ago',
                case
                    when items is not null
                        then
                            {{ count_words('items') }} || ' ' || top_category
                            || case when items = 1 then ' item' else ' items' end
                end,
                case when status != 'completed' then status end
            ),
            '; ' order by ordered_at desc
        ) || '.' as phrase
    from recent_orders
    group by cutoff_date, customer_id
),

events_last_30d as (
    select
        cutoffs.cutoff_date,
        events.customer_id,
        events.event_at,
        events.event_type,
        events.search_query,
        products.category
    from cutoffs
    inner join events
        on
            cutoffs.cutoff_date > events.event_at
            and events.event_at >= cutoffs.cutoff_date - interval 30 day
    left join products
        on events.product_id = products.product_id
),

category_interest as (
    select
        cutoff_date,
        customer_id,
        category,
        count(*) as events
    from events_last_30d
    where category is not null
    group by cutoff_date, customer_id, category
),

top_categories as (
    select
        cutoff_date,
        customer_id,
        first(category order by events desc, category asc) as top_category
    from category_interest
    group by cutoff_date, customer_id
),

event_phrases as (
    select
        events_last_30d.cutoff_date,
        events_last_30d.customer_id,
        'last month ' || concat_ws(
            ', ',
            {{ nonzero_count("event_type = 'view'", 'view') }},
            {{ nonzero_count("event_type = 'search'", 'search', 'searches') }},
            {{ nonzero_count("event_type = 'add_to_cart'", 'cart') }},
            'mostly ' || any_value(top_categories.top_category),
            'searched ' || {{ scrub_text(
                "first(search_query order by event_at desc, search_query) "
                ~ "filter (where event_type = 'search')",
                2
            ) }}
        ) || '.' as phrase
    from events_last_30d
    left join top_categories
        on
            events_last_30d.cutoff_date = top_categories.cutoff_date
            and events_last_30d.customer_id = top_categories.customer_id
    group by events_last_30d.cutoff_date, events_last_30d.customer_id
),

latest_reviews as (
    select
        cutoffs.cutoff_date,
        reviews.customer_id,
        first(
            reviews.rating
            order by reviews.reviewed_at desc, reviews.rating asc, reviews.review_text asc
        ) as rating,
        first(
            reviews.review_text
            order by reviews.reviewed_at desc, reviews.rating asc, reviews.review_text asc
        ) as review_text
    from cutoffs
    inner join reviews
        on cutoffs.cutoff_date > reviews.reviewed_at
    group by cutoffs.cutoff_date, reviews.customer_id
),

review_phrases as (
    select
        cutoff_date,
        customer_id,
        concat_ws(
            ': ',
            'rated ' || {{ counted('rating', 'star') }},
            {{ scrub_text('review_text', 4) }}
        ) || '.' as phrase
    from latest_reviews
),

paragraphs as (
    select
        customer_rfm.customer_id,
        customer_rfm.cutoff_date,
        concat_ws(
            ' ',
            event_phrases.phrase,
            recent_order_phrases.phrase,
            case
                when customer_rfm.frequency = 0 then 'no completed purchase.'
                when customer_rfm.frequency = 1
                    then
                        'one purchase of '
                        || {{ money_words('customer_rfm.monetary_mean') }} || '.'
                else
                    {{ count_words('customer_rfm.frequency') }} || ' purchases, '
                    || {{ cadence_words('customer_rfm.mean_gap_days') }}
                    || ', ' || {{ money_words('customer_rfm.monetary_mean') }} || ' each.'
            end,
            case
                when customer_rfm.returned_orders > 0
                    then 'returned ' || {{ count_words('customer_rfm.returned_orders') }} || '.'
            end,
            review_phrases.phrase,
            'first order ' || {{ days_ago_words('customer_rfm.tenure_days') }} || ' ago.'
        ) as behaviour_text,
        {{ behaviour_text_version() }} as text_template_version
    from customer_rfm
    left join recent_order_phrases
        on
            customer_rfm.cutoff_date = recent_order_phrases.cutoff_date
            and customer_rfm.customer_id = recent_order_phrases.customer_id
    left join event_phrases
        on
            customer_rfm.cutoff_date = event_phrases.cutoff_date
            and customer_rfm.customer_id = event_phrases.customer_id
    left join review_phrases
        on
            customer_rfm.cutoff_date = review_phrases.cutoff_date
            and customer_rfm.customer_id = review_phrases.customer_id
)

select * from paragraphs
