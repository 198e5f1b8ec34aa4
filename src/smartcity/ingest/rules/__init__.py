"""Validation rules: kinds and parameters, identifiers, code tables, compilation to Polars."""
