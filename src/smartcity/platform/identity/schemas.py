"""Pydantic I/O for departments, users and tokens."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smartcity.platform.permissions import Role

DepartmentKind = Literal["department", "town"]


class DepartmentCreate(BaseModel):
    """A new department or town office."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,15}$", description="short code, e.g. GAJ")
    name: str = Field(min_length=2, max_length=100, description="official full name")
    short_name: str = Field(min_length=2, max_length=60)
    kind: DepartmentKind = "department"
    division_code: str | None = Field(default=None, pattern=r"^\d{9}$|^\d{12}$")


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    short_name: str
    kind: str
    division_code: str | None


class UserCreate(BaseModel):
    """A new console user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(pattern=r"^[a-z][a-z0-9_.-]{2,63}$")
    display_name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=10, max_length=200)
    role: Role
    department: str | None = Field(default=None, description="department code; required for department roles")


class UserUpdate(BaseModel):
    """Changes to a user; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    role: Role | None = None
    department: str | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


class UserRead(BaseModel):
    username: str
    display_name: str
    role: Role
    department: str | None
    is_active: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime


class TokenCreate(BaseModel):
    """A new API token for a department system."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1)
    expires_in_days: int | None = Field(default=90, ge=1, le=730)


class TokenRead(BaseModel):
    id: int
    key_id: str
    name: str
    owner: str
    department: str | None
    scopes: list[str]
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    created_at: dt.datetime


class TokenCreated(TokenRead):
    """Returned once, at creation: the only time the secret is shown."""

    token: str


class Me(BaseModel):
    username: str
    display_name: str
    role: Role
    department: str | None
    permissions: list[str]
    via: Literal["session", "token"]
