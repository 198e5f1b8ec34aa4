"""Audit: an append-only, hash-chained log of logins, permission changes and data access."""
