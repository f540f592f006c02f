with

features_at_as_of_date as (
    {{ customer_feature_rows('is_scoring_cutoff') }}
)

select * from features_at_as_of_date
