"""Inference core of the CLV model: model definition, artifact I/O and the Arrow scorer.

`training/` imports this package (never the other way round); the dbt-duckdb plugin that
registers the SQL UDFs wraps `python_udfs.scoring.Scorer`.
"""
