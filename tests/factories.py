"""Small `make_*` helpers that create test data through the services, so tests exercise the real rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.catalog.models import CatalogEntry
from smartcity.catalog.schemas import EntryCreate
from smartcity.platform.identity import service as identity
from smartcity.platform.identity import tokens
from smartcity.platform.identity.models import Department, User
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.schemas import DepartmentCreate, TokenCreate
from smartcity.platform.permissions import REGISTRY, Role

PASSWORD = "correct-horse-battery"


def root() -> Principal:
    """A platform-admin principal without a user row, for setting up data."""
    return identity.system_principal("test-root")


def make_department(
    session: Session,
    code: str = "GAJ",
    name: str = "余姚市公安局",
    short_name: str | None = None,
    kind: str = "department",
) -> Department:
    existing = session.query(Department).filter_by(code=code).one_or_none()
    if existing is not None:
        return existing
    return identity.create_department(
        session,
        by=root(),
        data=DepartmentCreate(code=code, name=name, short_name=short_name or name.removeprefix("余姚"), kind=kind),
    )


def make_user(
    session: Session, username: str, role: Role, department: str | None = None, password: str = PASSWORD
) -> User:
    return identity.ensure_user(
        session, username=username, display_name=username, password=password, role=role, department_code=department
    )


def principal(user: User) -> Principal:
    return identity.principal_for(user)


def make_token(
    session: Session,
    by: Principal,
    scopes: list[str] | None = None,
    name: str = "system",
    expires_in_days: int | None = 30,
) -> str:
    wanted = scopes if scopes is not None else sorted(REGISTRY.token_scopes_for_role(by.role))
    _, raw = tokens.create_token(
        session, by=by, data=TokenCreate(name=name, scopes=wanted, expires_in_days=expires_in_days)
    )
    return raw


def entry_payload(
    code: str = "330281-GAJ-00001", name: str = "人口基础信息", department: str = "GAJ", **overrides: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "code": code,
        "name": name,
        "department": department,
        "description": "全市户籍人口的基础登记信息",
        "sharing_type": "conditional",
        "sharing_condition": "用于法定职责范围内的人口核查",
        "open_type": "none",
        "update_cycle": "daily",
        "format": "table",
        "tags": ["人口", "户籍"],
        "fields": [
            {
                "name": "resident_id",
                "title": "公民身份号码",
                "type": "string",
                "required": True,
                "sensitive": True,
                "key": True,
            },
            {"name": "full_name", "title": "姓名", "type": "string", "required": True, "sensitive": True},
            {"name": "birth_date", "title": "出生日期", "type": "date"},
        ],
    }
    payload.update(overrides)
    return payload


def make_entry(session: Session, by: Principal | None = None, **overrides: Any) -> CatalogEntry:
    return catalog.create_entry(session, by=by or root(), data=EntryCreate.model_validate(entry_payload(**overrides)))


def auth(raw_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw_token}"}
