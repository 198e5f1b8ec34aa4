"""Validation rules of an entry (declare, change, remove, suggest from the schema) and the code tables they use."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.catalog.schemas import FieldSpec
from smartcity.catalog.vocab import FieldType
from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.ingest import service as batches
from smartcity.ingest.models import CodeTable, Rule
from smartcity.ingest.permissions import INGEST_CODES
from smartcity.ingest.rules.codetables import BUILTIN, TOWNS_TABLE, TOWNS_TITLE
from smartcity.ingest.rules.compile import RuleRecord
from smartcity.ingest.rules.kinds import (
    KIND_LABELS,
    PARAMS,
    CompareParams,
    RuleKind,
    check_rule_fits,
    parse_params,
)
from smartcity.ingest.schemas import CodeTableIn, CodeTableRead, RuleIn, RuleRead
from smartcity.ingest.vocab import Severity
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound
from smartcity.platform.i18n import N_, gettext
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal

CODE_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


# --- code tables ---------------------------------------------------------------------------------------------


def town_codes(session: Session) -> dict[str, str]:
    """The city's township-level division codes (统计用区划代码前9位) from its registered towns."""
    return {d.division_code: d.name for d in identity.all_departments(session) if d.kind == "town" and d.division_code}


def code_tables(session: Session, names: Collection[str]) -> dict[str, dict[str, str]]:
    """The codes of the tables called `names` that exist: national ones, the city's towns, the city's own."""
    tables = {name: BUILTIN[name].codes() for name in names if name in BUILTIN}
    if TOWNS_TABLE in names:
        tables[TOWNS_TABLE] = town_codes(session)
    own = set(names) - set(tables) - {TOWNS_TABLE}
    if own:
        for custom in session.scalars(select(CodeTable).where(CodeTable.name.in_(own))):
            tables[custom.name] = dict(custom.codes)
    return tables


def code_table_names(session: Session) -> frozenset[str]:
    """The names rules may refer to, without reading the tables' codes."""
    return frozenset([*BUILTIN, TOWNS_TABLE, *session.scalars(select(CodeTable.name))])


def code_table_titles(session: Session) -> dict[str, str]:
    """Titles of the city's own code tables (built-in titles are message ids)."""
    return {name: title for name, title in session.execute(select(CodeTable.name, CodeTable.title))}


def list_code_tables(session: Session, locale: str) -> list[CodeTableRead]:
    """The code tables rules can use."""
    found = [
        CodeTableRead(name=name, title=gettext(locale, t.title), builtin=True, standard=t.standard, size=len(t.codes()))
        for name, t in BUILTIN.items()
    ]
    found.append(
        CodeTableRead(
            name=TOWNS_TABLE,
            title=gettext(locale, TOWNS_TITLE),
            builtin=True,
            standard=gettext(locale, "Statistical division codes (9 digits)"),
            size=len(town_codes(session)),
        )
    )
    found += [
        CodeTableRead(name=t.name, title=t.title, builtin=False, standard="", size=len(t.codes))
        for t in session.scalars(select(CodeTable).order_by(CodeTable.name))
    ]
    return found


def get_code_table(session: Session, name: str, locale: str) -> CodeTableRead:
    """One code table with its codes."""
    found = next((table for table in list_code_tables(session, locale) if table.name == name), None)
    if found is None:
        raise NotFound(N_("There is no code table '{name}'."), name=name)
    found.codes = code_tables(session, {name})[name]
    return found


def put_code_table(session: Session, *, by: Principal, name: str, data: CodeTableIn) -> CodeTableRead:
    """Create or replace one of the city's own code tables."""
    by.require(INGEST_CODES)
    if not CODE_TABLE_NAME.fullmatch(name):
        raise InvalidInput(
            N_("A code table name uses lower-case letters, digits and _ (2-40 characters)."), field="name"
        )
    if name in BUILTIN or name == TOWNS_TABLE:
        raise Conflict(N_("'{name}' is a built-in code table and cannot be changed."), field="name", name=name)
    for code, label in data.codes.items():
        if not code.strip() or len(code) > 40 or len(label) > 200:
            raise InvalidInput(
                N_("Code '{code}': codes have 1-40 characters, labels at most 200."), field="codes", code=code[:40]
            )
    found = session.scalars(select(CodeTable).where(CodeTable.name == name)).one_or_none()
    if found is None:
        found = CodeTable(name=name, title=data.title, codes=dict(data.codes), updated_by=by.username)
        session.add(found)
    else:
        found.title, found.codes = data.title, dict(data.codes)
    found.updated_by, found.updated_at = by.username, utcnow()
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="ingest.codetable.put",
        target_type="code_table",
        target_id=name,
        detail={"codes": len(data.codes)},
    )
    return CodeTableRead(name=name, title=data.title, builtin=False, standard="", size=len(data.codes))


# --- rules ---------------------------------------------------------------------------------------------------


def rule_description(kind: RuleKind, params: Mapping[str, Any], locale: str) -> str:
    """A short account of a rule's parameters, for lists."""
    label = gettext(locale, KIND_LABELS[kind])
    shown = {k: v for k, v in params.items() if v not in (None, "", [], {})}
    if not shown:
        return label
    parts = []
    for key, value in shown.items():
        if isinstance(value, list):
            value = "、".join(str(v) for v in value[:8]) + ("…" if len(value) > 8 else "")
        elif isinstance(value, dict):
            value = ", ".join(f"{a}→{b}" for a, b in value.items())
        parts.append(f"{key}={value}")
    return f"{label} ({'; '.join(parts)})"


def rule_read(rule: Rule, locale: str) -> RuleRead:
    return RuleRead(
        id=rule.id,
        entry_code=rule.entry_code,
        field=rule.field,
        kind=RuleKind(rule.kind),
        params=dict(rule.params),
        severity=Severity(rule.severity),
        enabled=rule.enabled,
        note=rule.note,
        description=rule_description(RuleKind(rule.kind), rule.params, locale),
        updated_by=rule.updated_by,
        updated_at=rule.updated_at,
    )


def entry_rules(session: Session, code: str) -> list[Rule]:
    """The declared rules of an entry, in the order they were declared."""
    return list(session.scalars(select(Rule).where(Rule.entry_code == code).order_by(Rule.id)))


def list_rules(session: Session, *, by: Principal, code: str) -> list[Rule]:
    """The rules of an entry the caller can see (every signed-in user can read the catalogue and its rules)."""
    batches.entry_version(session, by=by, code=code)
    return entry_rules(session, code)


def _validated(session: Session, by: Principal, ev: batches.EntryVersion, data: RuleIn) -> dict[str, Any]:
    params = parse_params(data.kind, data.params)
    other_schema = None
    if isinstance(params, CompareParams):
        try:
            other = batches.entry_version(session, by=by, code=params.entry)
        except NotFound:
            other = None
        if other is not None and other.code == ev.code:
            raise InvalidInput(
                N_("Compare with another department's entry, not the entry itself."), field="params.entry"
            )
        other_schema = {f.name: f for f in other.fields} if other else None
    check_rule_fits(
        data.kind,
        data.field,
        params,
        {f.name: f for f in ev.fields},
        code_tables=code_table_names(session),
        timezone=get_settings().timezone,
        other_schema=other_schema,
    )
    return params.model_dump(mode="json", exclude_none=True)


def create_rule(session: Session, *, by: Principal, code: str, data: RuleIn) -> Rule:
    """Declare a rule on a field of the entry's current version."""
    ev = batches.entry_version(session, by=by, code=code)
    batches.require_rules(by, ev)
    return _create_rule(session, by, ev, data)


def _create_rule(session: Session, by: Principal, ev: batches.EntryVersion, data: RuleIn) -> Rule:
    code = ev.code
    params = _validated(session, by, ev, data)
    rule = Rule(
        entry_code=code,
        field=data.field,
        kind=data.kind.value,
        params=params,
        severity=data.severity.value,
        enabled=data.enabled,
        note=data.note,
        updated_by=by.username,
        updated_at=utcnow(),
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="ingest.rule.create",
        target_type="ingest_rule",
        target_id=rule.id,
        detail={"entry": code, "field": data.field, "kind": data.kind.value, "params": params},
    )
    return rule


def _rule(session: Session, code: str, rule_id: int) -> Rule:
    rule = session.scalars(select(Rule).where(Rule.id == rule_id, Rule.entry_code == code)).one_or_none()
    if rule is None:
        raise NotFound(N_("Entry '{code}' has no rule {id}."), code=code, id=rule_id)
    return rule


def update_rule(session: Session, *, by: Principal, code: str, rule_id: int, data: RuleIn) -> Rule:
    """Change a rule (the next batches are checked by the new version of it)."""
    ev = batches.entry_version(session, by=by, code=code)
    batches.require_rules(by, ev)
    rule = _rule(session, code, rule_id)
    params = _validated(session, by, ev, data)
    rule.field, rule.kind, rule.params = data.field, data.kind.value, params
    rule.severity, rule.enabled, rule.note = data.severity.value, data.enabled, data.note
    rule.updated_by, rule.updated_at = by.username, utcnow()
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="ingest.rule.update",
        target_type="ingest_rule",
        target_id=rule.id,
        detail={"entry": code, "field": data.field, "kind": data.kind.value, "params": params},
    )
    return rule


def delete_rule(session: Session, *, by: Principal, code: str, rule_id: int) -> None:
    """Remove a rule."""
    ev = batches.entry_version(session, by=by, code=code)
    batches.require_rules(by, ev)
    rule = _rule(session, code, rule_id)
    session.delete(rule)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="ingest.rule.delete",
        target_type="ingest_rule",
        target_id=rule_id,
        detail={"entry": code, "field": rule.field, "kind": rule.kind},
    )


def rule_records(rules: Sequence[Rule]) -> list[RuleRecord]:
    """Enabled rules as the compiler takes them."""
    return [
        RuleRecord(
            id=r.id,
            field=r.field,
            kind=RuleKind(r.kind),
            params=PARAMS[RuleKind(r.kind)].model_validate(r.params),
            severity=Severity(r.severity),
        )
        for r in rules
        if r.enabled
    ]


# --- suggestions from the schema -----------------------------------------------------------------------------

CODE_ITEM = re.compile(r"^(\d{1,4})([^\d\s位]\D{0,15})$")


def _listed_codes(description: str) -> list[str] | None:
    """Codes spelled out in a field description such as '1正常，2死亡，3迁出，4注销' (not '12位…', a length)."""
    items = [part.strip() for part in re.split(r"[，,；;、]", description.strip()) if part.strip()]
    matches = [CODE_ITEM.match(item) for item in items]
    if len(items) < 2 or not all(matches):
        return None
    codes = [m.group(1) for m in matches if m]
    return codes if len(set(codes)) == len(codes) else None


def suggest_rules(fields: Sequence[FieldSpec], existing: Sequence[Rule] = ()) -> list[RuleIn]:
    """Rules the schema's own words call for (GB codes named in descriptions, identifiers, phones, dates)."""
    names = {f.name for f in fields}
    have = {(r.field, r.kind) for r in existing}
    found: list[RuleIn] = []

    def add(field: str, kind: RuleKind, params: dict[str, Any] | None = None) -> None:
        if (field, kind.value) not in have and (field, kind) not in {(r.field, r.kind) for r in found}:
            found.append(RuleIn(field=field, kind=kind, params=params or {}))

    for spec in fields:
        text = f"{spec.title} {spec.description}"
        if "GB 11643" in text or spec.name in ("resident_id",) or spec.name.endswith("_resident_id"):
            params: dict[str, Any] = {}
            if "birth_date" in names and spec.name == "resident_id":
                params["birth_date_field"] = "birth_date"
            if "gender_code" in names and spec.name == "resident_id":
                params["sex_field"] = "gender_code"
            add(spec.name, RuleKind.RESIDENT_ID, params)
        elif "GB 32100" in text:
            add(spec.name, RuleKind.USCC)
        elif "GB/T 2261.1" in text:
            add(spec.name, RuleKind.ENUM, {"code_table": "gb2261_1"})
        elif "GB/T 2261.2" in text:
            add(spec.name, RuleKind.ENUM, {"code_table": "gb2261_2"})
        elif "GB/T 3304" in text:
            add(spec.name, RuleKind.ENUM, {"code_table": "gb3304"})
        elif "GB/T 4761" in text:
            add(spec.name, RuleKind.ENUM, {"code_table": "gb4761"})
        elif "GB/T 2260" in text:
            add(spec.name, RuleKind.ENUM, {"code_table": "gb2260"})
        elif "统计用区划代码前9位" in text:
            add(spec.name, RuleKind.ENUM, {"code_table": TOWNS_TABLE})
        elif "手机号码" in text or spec.name == "phone" or spec.name.endswith("_phone"):
            add(spec.name, RuleKind.PHONE)
        elif spec.type is FieldType.STRING and (codes := _listed_codes(spec.description)) is not None:
            add(spec.name, RuleKind.ENUM, {"values": codes})
        if spec.type in (FieldType.DATE, FieldType.DATETIME) and any(
            word in spec.title for word in ("出生", "成立", "登记", "建档", "批准", "入户", "参保", "发证")
        ):
            add(spec.name, RuleKind.DATE_SANITY)
    return found


def apply_suggestions(session: Session, *, by: Principal, code: str) -> list[Rule]:
    """Declare every suggested rule the entry does not have yet."""
    ev = batches.entry_version(session, by=by, code=code)
    batches.require_rules(by, ev)
    created = []
    for suggestion in suggest_rules(ev.fields, entry_rules(session, code)):
        try:
            with session.begin_nested():
                created.append(_create_rule(session, by, ev, suggestion))
        except InvalidInput:
            continue
    return created
