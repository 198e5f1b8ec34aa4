"""Imports every model module so Alembic and the test database see the whole schema."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "smartcity.platform.identity.models",
    "smartcity.platform.audit.models",
    "smartcity.platform.jobs.models",
    "smartcity.catalog.models",
    "smartcity.ingest.models",
    "smartcity.registry.models",
    "smartcity.exchange.models",
    "smartcity.iot.models",
    "smartcity.ngsild.models",
)


def import_all_models() -> None:
    """Register every table on Base.metadata."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
