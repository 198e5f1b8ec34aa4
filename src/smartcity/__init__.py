"""smartcity: an open-source smart city platform (resource catalogue, data hub, city operations)."""

__version__ = "0.1.0"
