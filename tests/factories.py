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


# --- data collection ---------------------------------------------------------------------------------------

PERSON_CODE = "330281-GAJ-00001"
PERSON_HEADER = "公民身份号码,姓名,性别,出生日期,联系电话,所属乡镇（街道）,月收入"


def person_fields() -> list[dict[str, Any]]:
    """A small population entry: resident ID as the key, name, sex, birth date, phone, town, income."""
    return [
        {"name": "resident_id", "title": "公民身份号码", "required": True, "sensitive": True, "key": True},
        {"name": "full_name", "title": "姓名", "required": True, "sensitive": True},
        {"name": "gender_code", "title": "性别", "required": True, "description": "GB/T 2261.1 性别代码"},
        {"name": "birth_date", "title": "出生日期", "type": "date", "required": True},
        {"name": "phone", "title": "联系电话", "description": "11位手机号码"},
        {"name": "town_code", "title": "所属乡镇（街道）", "description": "统计用区划代码前9位"},
        {"name": "income", "title": "月收入", "type": "decimal"},
    ]


def make_person_entry(session: Session, code: str = PERSON_CODE, department: str = "GAJ") -> CatalogEntry:
    make_department(session, department, "余姚市公安局" if department == "GAJ" else f"余姚市{department}")
    return make_entry(
        session, code=code, name=f"人口基础信息{code[-3:]}", department=department, fields=person_fields()
    )


def make_town(
    session: Session, code: str = "YMJD", name: str = "余姚市阳明街道办事处", division: str = "330281004"
) -> None:
    existing = session.query(Department).filter_by(code=code).one_or_none()
    if existing is None:
        identity.create_department(
            session,
            by=root(),
            data=DepartmentCreate(code=code, name=name, short_name=name[3:7], kind="town", division_code=division),
        )


def resident_id(birth: str, seq: int, region: str = "330281") -> str:
    """A valid GB 11643 resident ID for a birth date 'YYYYMMDD' and a 3-digit sequence (odd = male)."""
    body = f"{region}{birth}{seq:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def store_text(text: str, name: str = "batch.csv", encoding: str = "utf-8") -> Any:
    """Put a file with `text` into the store, as an upload would."""
    from smartcity.ingest import files

    return files.store_chunks(iter([text.encode(encoding)]), name)


def store_bytes(data: bytes, name: str) -> Any:
    from smartcity.ingest import files

    return files.store_chunks(iter([data]), name)


def ingest_text(
    session: Session,
    text: str,
    *,
    code: str = PERSON_CODE,
    by: Principal | None = None,
    name: str = "batch.csv",
    encoding: str = "utf-8",
    overrides: dict[str, str | None] | None = None,
    force: bool = False,
) -> Any:
    """Submit a CSV text through the service and process it at once; returns the submission."""
    from smartcity.ingest import pipeline
    from smartcity.ingest import service as batches
    from smartcity.ingest.vocab import Source

    submission = batches.submit_batch(
        session,
        by=by or root(),
        code=code,
        stored=store_text(text, name, encoding),
        source=Source.CLI,
        overrides=overrides,
        force=force,
        enqueue=False,
    )
    session.flush()
    if not submission.duplicate:
        pipeline.process_batch(submission.batch.id)
    session.expire_all()
    return submission


def load_text(code: str, text: str, name: str | None = None) -> int:
    """Submit a CSV text to `code` as the platform administrator, commit, and process the batch as the worker would
    (for tests whose server reads through connections of its own); returns the batch id."""
    from smartcity import db as dbmod
    from smartcity.ingest import pipeline
    from smartcity.ingest import service as batches
    from smartcity.ingest.vocab import Source

    with dbmod.unit_of_work() as session:
        stored = store_text(text, name or f"{code}.csv")
        batch_id = int(batches.submit_batch(session, by=root(), code=code, stored=stored, source=Source.CLI).batch.id)
    pipeline.process_batch(batch_id)
    return batch_id


def add_rules(session: Session, code: str = PERSON_CODE) -> None:
    """The rules the schema suggests (resident ID with birth date and sex, sex codes, phone, towns)."""
    from smartcity.ingest import ruleset

    ruleset.apply_suggestions(session, by=root(), code=code)
