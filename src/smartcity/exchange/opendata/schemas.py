"""Pydantic I/O of the open-data portal: accounts and agreements."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

USERNAME = r"^[a-z0-9][a-z0-9_.-]{2,63}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{2,}$"


class AccountIn(BaseModel):
    """Registration on the portal."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(pattern=USERNAME, description="3-64 lower-case letters, digits, . _ -")
    display_name: str = Field(min_length=1, max_length=100)
    email: str = Field(pattern=EMAIL, max_length=200)
    organisation: str = Field(default="", max_length=200, description="company, school or institute, if any")
    password: str = Field(min_length=10, max_length=200)


class AgreementIn(BaseModel):
    """Accepting the conditions of a conditionally open entry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    purpose: str = Field(min_length=4, max_length=1000, description="what the data will be used for")
    accept: bool


class AgreementRead(BaseModel):
    entry_code: str
    entry_name: str
    conditions: str
    purpose: str
    accepted_at: dt.datetime
    current: bool = Field(description="false once the entry's conditions changed: accept them again")


class AccountRead(BaseModel):
    username: str
    display_name: str
    email: str
    organisation: str
    created_at: dt.datetime
    has_api_key: bool
    agreements: list[AgreementRead]
