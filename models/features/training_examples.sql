with

features_at_training_cutoffs as (
    {{ customer_feature_rows('is_training_cutoff') }}
),

customer_labels as (
    select
        customer_id,
        cutoff_date,
        future_revenue,
        future_purchases,
        future_purchase_days,
        churned
    from {{ ref('customer_labels') }}
),

examples as (
    select
        features_at_training_cutoffs.*,
        customer_labels.future_revenue,
        customer_labels.future_purchases,
        customer_labels.future_purchase_days,
        customer_labels.churned
    from features_at_training_cutoffs
    inner join customer_labels
        on
            features_at_training_cutoffs.customer_id = customer_labels.customer_id
            and features_at_training_cutoffs.cutoff_date = customer_labels.cutoff_date
)

select * from examples
