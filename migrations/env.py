"""Alembic environment: migrates the database of SMARTCITY_DATABASE_URL (or the connection passed in)."""

from __future__ import annotations

from alembic import context

from smartcity.db import Base, build_engine
from smartcity.config import get_settings
from smartcity.models import import_all_models

import_all_models()
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = build_engine(context.config.get_main_option("sqlalchemy.url") or get_settings().database_url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
