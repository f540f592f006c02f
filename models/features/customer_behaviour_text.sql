{#- Behaviour text v2: one English paragraph per customer and cutoff, most recent first, saying
    what the numeric features cannot: what was bought (normalised product names; categories
    only when the catalogue has them), how the basket changed, returns, refunds, the latest review,
    searches, browsing and marketing touches. Counts are words, there is no money and no exact
    RFM number, free text is scrubbed (scrub_text), and whole clauses are dropped by priority
    to fit var('text_token_budget'). Every aggregate has a tie-break: the text is
    deterministic. -#}
{%- set budget = text_token_budget() -%}

with

cutoffs as (
    select cutoff_date from {{ ref('cutoffs') }}
),

population as (
    select
        customer_id,
        cutoff_date
    from {{ ref('customer_rfm') }}
),

orders as (
    select
        order_id,
        customer_id,
        ordered_at,
        order_date,
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
    {#- Catalogue text is normalised and scrubbed before it reaches the text. The extra row
        (a null id never joins) keeps this CTE non-empty: DuckDB 2.0.1 folds comparisons of an
        integer sum taken after a LEFT JOIN to an empty table to a constant (sum(quantity) <= 0
        became true), which made a shop without a products file read "no items". -#}
    select
        product_id,
        {{ product_words('product_name', 3) }} as product_label,
        {{ product_words('category', 2) }} as category_label
    from {{ ref('stg_products') }}
    union all
    select
        cast(null as varchar) as product_id,
        cast(null as varchar) as product_label,
        cast(null as varchar) as category_label
),

catalogue as (
    {#- Categories are named only when the catalogue has two or more real ones (CDNOW has
        one); without them the product names carry the meaning. -#}
    select
        count(distinct category_label) >= 2 as has_categories,
        count(distinct product_label) >= 2 as has_names
    from products
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

refunds as (
    {#- Refunds that removed revenue (a refund of an order already returned or cancelled says
        nothing new). -#}
    select
        refund_id,
        customer_id,
        refunded_at,
        refund_date,
        reason
    from {{ ref('stg_refunds') }}
    where effective_amount > 0
),

order_lines as (
    {#- Products without a name are called by their category, then "item". -#}
    select
        order_items.order_id,
        coalesce(products.product_label, products.category_label, 'item') as item_label,
        case
            when catalogue.has_categories
                then coalesce(products.category_label, products.product_label, 'item')
            else coalesce(products.product_label, 'item')
        end as basket_group,
        order_items.quantity,
        order_items.quantity * order_items.unit_price as line_value
    from order_items
    cross join catalogue
    left join products
        on order_items.product_id = products.product_id
),

order_labels as (
    select
        order_id,
        item_label,
        sum(quantity) as quantity,
        sum(line_value) as line_value
    from order_lines
    group by order_id, item_label
),

order_contents as (
    {#- "a cookbook and two face creams", "three compact discs, a mug and four other items". -#}
    select
        order_id,
        sum(quantity) as items,
        count(*) as labels,
        list(
            {{ quantity_words('quantity', 'item_label') }}
            order by line_value desc, quantity desc, item_label asc
        )[1:2] as top_phrases,
        list_sum(list(
            quantity order by line_value desc, quantity desc, item_label asc
        )[1:2]) as top_quantity
    from order_labels
    group by order_id
),

order_history as (
    {#- Point in time: only orders strictly before the cutoff; rank 1 is the latest. -#}
    select
        cutoffs.cutoff_date,
        orders.customer_id,
        orders.order_id,
        orders.status,
        cutoffs.cutoff_date - orders.order_date as days_ago,
        order_contents.items,
        case
            when order_contents.labels <= 2 then {{ word_list('order_contents.top_phrases') }}
            else
                array_to_string(order_contents.top_phrases, ', ') || ' and '
                || {{ counted(
                    'order_contents.items - order_contents.top_quantity', 'other item'
                ) }}
        end as contents,
        row_number() over customer_orders as recency_rank,
        count(*) over (partition by cutoffs.cutoff_date, orders.customer_id) as orders
    from cutoffs
    inner join orders
        on cutoffs.cutoff_date > orders.ordered_at
    left join order_contents
        on orders.order_id = order_contents.order_id
    window customer_orders as (
        partition by cutoffs.cutoff_date, orders.customer_id
        order by orders.ordered_at desc, orders.order_id desc
    )
),

last_order_clauses as (
    select
        cutoff_date,
        customer_id,
        'ordered ' || {{ days_ago_words('days_ago') }} || ' ago'
        || coalesce(': ' || contents, '')
        || case when status != 'completed' then ', ' || status else '' end
        || '.' as phrase
    from order_history
    where recency_rank = 1
),

previous_order_clauses as (
    {#- The second and third latest orders: "before that two months ago three compact discs;
        five months ago a compact disc". -#}
    select
        cutoff_date,
        customer_id,
        'before that ' || case
            when count(contents) = 0 and count(*) filter (where status != 'completed') = 0
                then {{ word_list(
                    'list(' ~ days_ago_words('days_ago') ~ " || ' ago' order by recency_rank)"
                ) }}
            else string_agg(
                {{ days_ago_words('days_ago') }} || ' ago'
                || coalesce(' ' || contents, '')
                || case when status != 'completed' then ', ' || status else '' end,
                '; ' order by recency_rank
            )
        end || '.' as phrase
    from order_history
    where recency_rank between 2 and 3
    group by cutoff_date, customer_id
),

return_counts as (
    select
        cutoff_date,
        customer_id,
        count(*) as orders,
        count(*) filter (where recency_rank <= 3) as recent_orders,
        count(*) filter (where recency_rank <= 3 and status = 'returned') as recent_returned,
        count(*) filter (where recency_rank <= 3 and status = 'cancelled') as recent_cancelled,
        count(*) filter (where status = 'returned') as returned,
        count(*) filter (where status = 'cancelled') as cancelled
    from order_history
    group by cutoff_date, customer_id
),

return_clauses as (
    {#- "returned two of the last three orders"; a single order's status is in its own clause. -#}
    select
        cutoff_date,
        customer_id,
        case
            when recent_returned + recent_cancelled > 0
                then concat_ws(
                    ' and ',
                    case
                        when recent_returned > 0
                            then 'returned ' || {{ count_words('recent_returned') }}
                    end,
                    case
                        when recent_cancelled > 0
                            then 'cancelled ' || {{ count_words('recent_cancelled') }}
                    end
                ) || ' of the last ' || {{ count_words('recent_orders') }} || ' orders.'
            else
                concat_ws(
                    ' and ',
                    case
                        when returned > 0 then 'returned ' || {{ counted('returned', 'order') }}
                    end,
                    case
                        when cancelled > 0
                            then 'cancelled ' || {{ counted('cancelled', 'order') }}
                    end
                ) || ' before.'
        end as phrase
    from return_counts
    where orders > 1 and returned + cancelled > 0
),

refund_history as (
    {#- Point in time: a refund counts from refunded_at on. -#}
    select
        cutoffs.cutoff_date,
        refunds.customer_id,
        count(*) as refunds,
        min(cutoffs.cutoff_date - refunds.refund_date) as last_refund_days_ago,
        first(refunds.reason order by refunds.refunded_at desc, refunds.refund_id desc)
            as last_reason
    from cutoffs
    inner join refunds
        on cutoffs.cutoff_date > refunds.refunded_at
    group by cutoffs.cutoff_date, refunds.customer_id
),

distinct_refund_reasons as (
    select distinct last_reason
    from refund_history
    where last_reason is not null
),

refund_reasons as (
    {#- Each distinct reason is scrubbed once. -#}
    select
        last_reason,
        {{ scrub_text('last_reason', 4) }} as reason_words
    from distinct_refund_reasons
),

refund_clauses as (
    {#- "got two refunds, the last a month ago: damaged in transit". -#}
    select
        refund_history.cutoff_date,
        refund_history.customer_id,
        'got ' || {{ counted('refund_history.refunds', 'refund') }}
        || case when refund_history.refunds = 1 then ' ' else ', the last ' end
        || {{ days_ago_words('refund_history.last_refund_days_ago') }} || ' ago'
        || coalesce(': ' || refund_reasons.reason_words, '') || '.' as phrase
    from refund_history
    left join refund_reasons
        on refund_history.last_reason = refund_reasons.last_reason
),

history_lines as (
    select
        order_history.cutoff_date,
        order_history.customer_id,
        order_history.order_id,
        order_history.recency_rank
        <= least(3, order_history.orders // 2) as is_recent,
        order_lines.item_label,
        order_lines.basket_group,
        order_lines.quantity,
        order_lines.line_value
    from order_history
    inner join order_lines
        on order_history.order_id = order_lines.order_id
    where order_history.orders > 1
),

basket_groups as (
    select
        cutoff_date,
        customer_id,
        is_recent,
        basket_group,
        sum(line_value) as group_value,
        sum(quantity) as group_quantity
    from history_lines
    where basket_group != 'item'
    group by cutoff_date, customer_id, is_recent, basket_group
),

top_basket_groups as (
    select
        cutoff_date,
        customer_id,
        first(basket_group order by group_value desc, group_quantity desc, basket_group asc)
        filter (where is_recent) as recent_group,
        first(basket_group order by group_value desc, group_quantity desc, basket_group asc)
        filter (where not is_recent) as earlier_group
    from basket_groups
    group by cutoff_date, customer_id
),

basket_sizes as (
    select
        cutoff_date,
        customer_id,
        avg(items) filter (where recency_rank <= least(3, orders // 2)) as recent_items,
        avg(items) filter (where recency_rank > least(3, orders // 2)) as earlier_items
    from order_history
    where orders > 1
    group by cutoff_date, customer_id
),

change_clauses as (
    {#- Recent orders (the later half, at most three) against the earlier ones. -#}
    select
        basket_sizes.cutoff_date,
        basket_sizes.customer_id,
        'lately ' || nullif(concat_ws(
            ' and ',
            case
                when top_basket_groups.recent_group != top_basket_groups.earlier_group
                    then
                        'more '
                        || case
                            when catalogue.has_categories
                                then top_basket_groups.recent_group
                            else {{ plural_words('top_basket_groups.recent_group') }}
                        end
                        || ' than '
                        || case
                            when catalogue.has_categories
                                then top_basket_groups.earlier_group
                            else {{ plural_words('top_basket_groups.earlier_group') }}
                        end
            end,
            case
                when basket_sizes.recent_items >= 1.5 * basket_sizes.earlier_items
                    then 'bigger baskets'
                when basket_sizes.recent_items * 1.5 <= basket_sizes.earlier_items
                    then 'smaller baskets'
            end
        ), '') || '.' as phrase
    from basket_sizes
    cross join catalogue
    left join top_basket_groups
        on
            basket_sizes.cutoff_date = top_basket_groups.cutoff_date
            and basket_sizes.customer_id = top_basket_groups.customer_id
),

usual_labels as (
    select
        cutoff_date,
        customer_id,
        item_label,
        count(distinct order_id) as label_orders,
        sum(line_value) as label_value
    from history_lines
    where item_label != 'item'
    group by cutoff_date, customer_id, item_label
),

usual_groups as (
    select
        cutoff_date,
        customer_id,
        basket_group,
        sum(line_value) as group_value,
        sum(quantity) as group_quantity
    from history_lines
    where basket_group != 'item'
    group by cutoff_date, customer_id, basket_group
),

usual_basket as (
    select
        cutoff_date,
        customer_id,
        quantile_disc(items, 0.5) as median_items
    from order_history
    where orders > 1 and items is not null
    group by cutoff_date, customer_id
),

usual_group_lists as (
    select
        cutoff_date,
        customer_id,
        list(
            basket_group order by group_value desc, group_quantity desc, basket_group asc
        )[1:2] as top_groups
    from usual_groups
    group by cutoff_date, customer_id
),

usual_label_lists as (
    select
        cutoff_date,
        customer_id,
        list(
            {{ plural_words('item_label') }}
            order by label_orders desc, label_value desc, item_label asc
        )[1:3] as top_labels
    from usual_labels
    group by cutoff_date, customer_id
),

usual_clauses as (
    {#- "usually two items per order, mostly books and beauty: cookbooks and face creams". -#}
    select
        usual_basket.cutoff_date,
        usual_basket.customer_id,
        'usually ' || {{ counted('usual_basket.median_items', 'item') }} || ' per order'
        || case
            when catalogue.has_categories
                then coalesce(', mostly ' || {{ word_list('usual_group_lists.top_groups') }}, '')
            else ''
        end
        || case
            when catalogue.has_names
                then coalesce(': ' || {{ word_list('usual_label_lists.top_labels') }}, '')
            else ''
        end
        || '.' as phrase
    from usual_basket
    cross join catalogue
    left join usual_group_lists
        on
            usual_basket.cutoff_date = usual_group_lists.cutoff_date
            and usual_basket.customer_id = usual_group_lists.customer_id
    left join usual_label_lists
        on
            usual_basket.cutoff_date = usual_label_lists.cutoff_date
            and usual_basket.customer_id = usual_label_lists.customer_id
),

first_order_clauses as (
    {#- Only when the first order is not among the three latest. -#}
    select
        cutoff_date,
        customer_id,
        'first order ' || {{ days_ago_words('max(days_ago)') }} || ' ago.' as phrase
    from order_history
    where orders > 3
    group by cutoff_date, customer_id
),

distinct_search_queries as (
    select distinct search_query
    from events
    where search_query is not null
),

search_queries as (
    {#- Each distinct query is scrubbed once. -#}
    select
        search_query,
        {{ scrub_text('search_query', 3, keywords=true) }} as query_words
    from distinct_search_queries
),

recent_events as (
    select
        cutoffs.cutoff_date,
        events.customer_id,
        events.event_at,
        events.event_type,
        coalesce(products.product_label, products.category_label) as item_label,
        search_queries.query_words
    from cutoffs
    inner join events
        on
            cutoffs.cutoff_date > events.event_at
            and events.event_at >= cutoffs.cutoff_date - interval 90 day
    left join products
        on events.product_id = products.product_id
    left join search_queries
        on events.search_query = search_queries.search_query
),

browsed_labels as (
    select
        cutoff_date,
        customer_id,
        item_label,
        count(*) as label_events,
        max(event_at) as last_event_at
    from recent_events
    where
        (event_type in {{ view_event_types() }} or event_type in {{ cart_event_types() }})
        and item_label is not null
        and event_at >= cutoff_date - interval 30 day
    group by cutoff_date, customer_id, item_label
),

browsed_label_lists as (
    select
        cutoff_date,
        customer_id,
        list(
            {{ plural_words('item_label') }}
            order by label_events desc, last_event_at desc, item_label asc
        )[1:2] as top_labels
    from browsed_labels
    group by cutoff_date, customer_id
),

searched_queries as (
    select
        cutoff_date,
        customer_id,
        query_words,
        max(event_at) as last_event_at
    from recent_events
    where
        event_type = 'search'
        and query_words is not null
        and event_at >= cutoff_date - interval 30 day
    group by cutoff_date, customer_id, query_words
),

searched_query_lists as (
    select
        cutoff_date,
        customer_id,
        list(query_words order by last_event_at desc, query_words asc)[1:2] as last_queries
    from searched_queries
    group by cutoff_date, customer_id
),

browsing_counts as (
    select
        cutoff_date,
        customer_id,
        count(*) filter (where event_type in {{ view_event_types() }}) as view_events,
        count(*) filter (where event_type in {{ cart_event_types() }}) as cart_events
    from recent_events
    where event_at >= cutoff_date - interval 30 day
    group by cutoff_date, customer_id
),

browsing_clauses as (
    {#- The last 30 days of browsing: "last month five views, one item carted, looked at
        wireless headphones and smart speakers, searched kids lego". -#}
    select
        browsing_counts.cutoff_date,
        browsing_counts.customer_id,
        'last month ' || nullif(concat_ws(
            ', ',
            case
                when browsing_counts.view_events > 0
                    then {{ counted('browsing_counts.view_events', 'view') }}
            end,
            case
                when browsing_counts.cart_events > 0
                    then {{ counted('browsing_counts.cart_events', 'item carted', 'items carted') }}
            end,
            'looked at ' || {{ word_list('browsed_label_lists.top_labels') }},
            'searched ' || {{ word_list('searched_query_lists.last_queries') }}
        ), '') || '.' as phrase
    from browsing_counts
    left join browsed_label_lists
        on
            browsing_counts.cutoff_date = browsed_label_lists.cutoff_date
            and browsing_counts.customer_id = browsed_label_lists.customer_id
    left join searched_query_lists
        on
            browsing_counts.cutoff_date = searched_query_lists.cutoff_date
            and browsing_counts.customer_id = searched_query_lists.customer_id
),

marketing_clauses as (
    {#- The last 90 days: "lately received three campaigns, redeemed one coupon". -#}
    select
        cutoff_date,
        customer_id,
        case
            when received > 0
                then
                    'lately received ' || {{ counted('received', 'campaign') }}
                    || ', redeemed ' || {{ counted('redeemed', 'coupon') }} || '.'
            when redeemed > 0 then 'lately redeemed ' || {{ counted('redeemed', 'coupon') }} || '.'
        end as phrase
    from (
        select
            cutoff_date,
            customer_id,
            count(*) filter (where event_type in {{ campaign_event_types() }}) as received,
            count(*) filter (where event_type in {{ coupon_event_types() }}) as redeemed
        from recent_events
        group by cutoff_date, customer_id
    ) as marketing_counts
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

distinct_reviews as (
    select distinct review_text
    from latest_reviews
    where review_text is not null
),

review_words as (
    {#- Each distinct latest review is scrubbed once. -#}
    select
        review_text,
        {{ scrub_text('review_text', 10, whole_sentences=true) }} as words
    from distinct_reviews
),

review_clauses as (
    select
        latest_reviews.cutoff_date,
        latest_reviews.customer_id,
        'rated ' || {{ counted('latest_reviews.rating', 'star') }}
        || coalesce(': ' || review_words.words, '') || '.' as phrase
    from latest_reviews
    left join review_words
        on latest_reviews.review_text = review_words.review_text
),

clause_texts as (
    select
        population.customer_id,
        population.cutoff_date,
        browsing_clauses.phrase as browsing,
        marketing_clauses.phrase as marketing,
        last_order_clauses.phrase as last_order,
        return_clauses.phrase as order_returns,
        refund_clauses.phrase as order_refunds,
        review_clauses.phrase as review,
        change_clauses.phrase as basket_change,
        previous_order_clauses.phrase as previous_orders,
        usual_clauses.phrase as usual_basket,
        first_order_clauses.phrase as first_order
    from population
    left join browsing_clauses
        on
            population.cutoff_date = browsing_clauses.cutoff_date
            and population.customer_id = browsing_clauses.customer_id
    left join marketing_clauses
        on
            population.cutoff_date = marketing_clauses.cutoff_date
            and population.customer_id = marketing_clauses.customer_id
    left join last_order_clauses
        on
            population.cutoff_date = last_order_clauses.cutoff_date
            and population.customer_id = last_order_clauses.customer_id
    left join return_clauses
        on
            population.cutoff_date = return_clauses.cutoff_date
            and population.customer_id = return_clauses.customer_id
    left join refund_clauses
        on
            population.cutoff_date = refund_clauses.cutoff_date
            and population.customer_id = refund_clauses.customer_id
    left join review_clauses
        on
            population.cutoff_date = review_clauses.cutoff_date
            and population.customer_id = review_clauses.customer_id
    left join change_clauses
        on
            population.cutoff_date = change_clauses.cutoff_date
            and population.customer_id = change_clauses.customer_id
    left join previous_order_clauses
        on
            population.cutoff_date = previous_order_clauses.cutoff_date
            and population.customer_id = previous_order_clauses.customer_id
    left join usual_clauses
        on
            population.cutoff_date = usual_clauses.cutoff_date
            and population.customer_id = usual_clauses.customer_id
    left join first_order_clauses
        on
            population.cutoff_date = first_order_clauses.cutoff_date
            and population.customer_id = first_order_clauses.customer_id
),

paragraphs as (
    {#- clause(priority, position, text): the priority decides what survives the budget, the
        position where it stands (most recent first). -#}
    select
        customer_id,
        cutoff_date,
        coalesce({{ fit_clauses('[' ~ [
            clause(1, 3, 'last_order'),
            clause(2, 4, 'order_returns'),
            clause(3, 5, 'order_refunds'),
            clause(4, 6, 'review'),
            clause(5, 1, 'browsing'),
            clause(6, 7, 'basket_change'),
            clause(7, 2, 'marketing'),
            clause(8, 9, 'usual_basket'),
            clause(9, 8, 'previous_orders'),
            clause(10, 10, 'first_order'),
        ] | join(', ') ~ ']', budget) }}, 'no orders yet.') as behaviour_text,
        {{ behaviour_text_version() }} as text_template_version
    from clause_texts
)

select * from paragraphs
