"""Pydantic I/O of the catalogue API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from smartcity.catalog.vocab import FieldType, OpenType, ResourceFormat, SharingType, UpdateCycle

CODE_PATTERN = r"^[0-9A-Z]{2,12}(-[0-9A-Z]{1,12}){1,3}$"
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class FieldSpec(BaseModel):
    """One field (数据项) of an entry's record schema."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(pattern=FIELD_NAME_PATTERN, description="column name: lower-case letters, digits, _")
    title: str = Field(min_length=1, max_length=100, description="Chinese name (数据项名称)")
    type: FieldType = FieldType.STRING
    required: bool = False
    sensitive: bool = Field(default=False, description="personal data, masked when shared")
    key: bool = Field(default=False, description="part of the business key")
    description: str = Field(default="", max_length=500)


class _EntryMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str = Field(default="", max_length=4000)
    sharing_condition: str = Field(default="", max_length=2000)
    open_condition: str = Field(default="", max_length=2000)
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class EntryCreate(_EntryMeta):
    """A new catalogue entry with its first schema version."""

    code: str = Field(pattern=CODE_PATTERN, max_length=40, examples=["330281-GAJ-00001"])
    name: str = Field(min_length=2, max_length=200, examples=["人口基础信息"])
    department: str = Field(min_length=1, max_length=16, description="providing department code")
    sharing_type: SharingType
    open_type: OpenType = OpenType.NONE
    update_cycle: UpdateCycle
    format: ResourceFormat = ResourceFormat.TABLE
    fields: list[FieldSpec] = Field(min_length=1, max_length=300)


class EntryUpdate(BaseModel):
    """Changes to an entry; a changed field list creates a new version."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=2, max_length=200)
    department: str | None = Field(default=None, min_length=1, max_length=16)
    description: str | None = Field(default=None, max_length=4000)
    sharing_type: SharingType | None = None
    sharing_condition: str | None = Field(default=None, max_length=2000)
    open_type: OpenType | None = None
    open_condition: str | None = Field(default=None, max_length=2000)
    update_cycle: UpdateCycle | None = None
    format: ResourceFormat | None = None
    tags: list[Tag] | None = Field(default=None, max_length=10)
    fields: list[FieldSpec] | None = Field(default=None, min_length=1, max_length=300)
    change_note: str = Field(default="", max_length=500, description="why the schema changed")


class DepartmentRef(BaseModel):
    code: str
    name: str


class EntrySummary(BaseModel):
    """An entry as a search result."""

    code: str
    name: str
    department: DepartmentRef
    description: str
    sharing_type: SharingType
    open_type: OpenType
    update_cycle: UpdateCycle
    format: ResourceFormat
    tags: list[str]
    version: int
    field_count: int
    updated_at: dt.datetime


class EntryRead(EntrySummary):
    """An entry with its current field schema."""

    sharing_condition: str
    open_condition: str
    fields: list[FieldSpec]
    created_by: str
    created_at: dt.datetime


class VersionRead(BaseModel):
    """One schema version of an entry; a retired version stays readable but takes no new data."""

    code: str
    version: int
    fields: list[FieldSpec]
    change_note: str
    created_by: str
    created_at: dt.datetime
    current: bool = False
    retired_at: dt.datetime | None = None
    retired_by: str | None = None
    retire_note: str = ""


class VersionRetire(BaseModel):
    """Why a schema version stops taking data."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(min_length=2, max_length=500, description="why the version is retired, e.g. 已由第2版替代")
