"""Catalogue entries (政务信息资源目录) and their schema versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smartcity.db import Base, UTCDateTime, utcnow


class CatalogEntry(Base):
    """One information resource a department provides: its metadata and current schema version."""

    __tablename__ = "catalog_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    sharing_type: Mapped[str] = mapped_column(String(16), index=True)
    sharing_condition: Mapped[str] = mapped_column(Text, default="")
    open_type: Mapped[str] = mapped_column(String(16), index=True)
    open_condition: Mapped[str] = mapped_column(Text, default="")
    update_cycle: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[CatalogEntryVersion]] = relationship(
        back_populates="entry", order_by="CatalogEntryVersion.version", cascade="all, delete-orphan"
    )


class CatalogEntryVersion(Base):
    """The field schema of an entry as of one version; versions are never changed once written."""

    __tablename__ = "catalog_entry_version"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entry.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retired_by: Mapped[str | None] = mapped_column(String(100))
    retire_note: Mapped[str] = mapped_column(Text, default="")

    entry: Mapped[CatalogEntry] = relationship(back_populates="versions")
