"""Addresses (地名地址): parsing and standardising address text, the standard address registry, and matching."""
