"""The kinds of validation rule, their parameters, and the checks that a rule fits the entry's schema.

Type and required come from the catalogue schema itself and the business key must be unique within a batch;
those three are always checked ("implicit" kinds). Every other rule is declared per field on the entry.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smartcity.catalog.schemas import FieldSpec
from smartcity.catalog.vocab import FieldType
from smartcity.platform.errors import InvalidInput, pydantic_message
from smartcity.platform.i18n import N_


class RuleKind(enum.StrEnum):
    """What a rule checks."""

    # implicit: from the schema
    REQUIRED = "required"
    TYPE = "type"
    DUPLICATE_KEY = "duplicate_key"
    # declared on fields
    ENUM = "enum"
    PATTERN = "pattern"
    RANGE = "range"
    LENGTH = "length"
    UNIQUE = "unique"
    RESIDENT_ID = "resident_id"
    USCC = "uscc"
    PHONE = "phone"
    DATE_SANITY = "date_sanity"
    CROSS_FIELD = "cross_field"
    REQUIRED_IF = "required_if"
    COMPARE = "compare"


IMPLICIT = frozenset({RuleKind.REQUIRED, RuleKind.TYPE, RuleKind.DUPLICATE_KEY})
DECLARABLE = tuple(k for k in RuleKind if k not in IMPLICIT)

KIND_LABELS = {
    RuleKind.REQUIRED: N_("Required"),
    RuleKind.TYPE: N_("Data type"),
    RuleKind.DUPLICATE_KEY: N_("Business key unique in the batch"),
    RuleKind.ENUM: N_("Code table / allowed values"),
    RuleKind.PATTERN: N_("Pattern"),
    RuleKind.RANGE: N_("Range"),
    RuleKind.LENGTH: N_("Length"),
    RuleKind.UNIQUE: N_("Unique"),
    RuleKind.RESIDENT_ID: N_("Resident ID (GB 11643)"),
    RuleKind.USCC: N_("Unified social credit code (GB 32100)"),
    RuleKind.PHONE: N_("Phone number"),
    RuleKind.DATE_SANITY: N_("Plausible date"),
    RuleKind.CROSS_FIELD: N_("Compared with another field"),
    RuleKind.REQUIRED_IF: N_("Required when another field has a value"),
    RuleKind.COMPARE: N_("Cross-department comparison"),
}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EnumParams(_Params):
    values: list[str] | None = Field(default=None, min_length=1, max_length=2000)
    code_table: str | None = Field(default=None, max_length=40)


class PatternParams(_Params):
    regex: str = Field(min_length=1, max_length=500)
    hint: str = Field(default="", max_length=200, description="what the pattern means, shown in messages")


class RangeParams(_Params):
    min: str | None = Field(default=None, max_length=40)
    max: str | None = Field(default=None, max_length=40)


class LengthParams(_Params):
    min: int | None = Field(default=None, ge=0, le=100_000)
    max: int | None = Field(default=None, ge=1, le=100_000)


class NoParams(_Params):
    pass


class ResidentIdParams(_Params):
    birth_date_field: str | None = Field(default=None, description="field that must equal the embedded birth date")
    sex_field: str | None = Field(default=None, description="GB/T 2261.1 sex field that must match the embedded sex")
    check_region: bool = Field(default=True, description="the first six digits must be a GB/T 2260 division code")


class PhoneParams(_Params):
    allow_landline: bool = True


class DateSanityParams(_Params):
    not_future: bool = True
    earliest: dt.date = dt.date(1900, 1, 1)


Operator = Literal["<", "<=", "==", "!=", ">=", ">"]


class CrossFieldParams(_Params):
    op: Operator
    other: str


class RequiredIfParams(_Params):
    other: str
    values: list[str] = Field(min_length=1, max_length=100)


class CompareParams(_Params):
    entry: str = Field(min_length=3, max_length=40, description="catalogue entry of the other department")
    match: dict[str, str] = Field(min_length=1, max_length=4, description="this entry's field → the other's field")
    other_field: str | None = Field(default=None, description="the other entry's field to compare this field with")
    mode: Literal["equal", "normalized", "exists"] = "normalized"


PARAMS: dict[RuleKind, type[_Params]] = {
    RuleKind.ENUM: EnumParams,
    RuleKind.PATTERN: PatternParams,
    RuleKind.RANGE: RangeParams,
    RuleKind.LENGTH: LengthParams,
    RuleKind.UNIQUE: NoParams,
    RuleKind.RESIDENT_ID: ResidentIdParams,
    RuleKind.USCC: NoParams,
    RuleKind.PHONE: PhoneParams,
    RuleKind.DATE_SANITY: DateSanityParams,
    RuleKind.CROSS_FIELD: CrossFieldParams,
    RuleKind.REQUIRED_IF: RequiredIfParams,
    RuleKind.COMPARE: CompareParams,
}

NUMERIC = frozenset({FieldType.INTEGER, FieldType.DECIMAL})
TEMPORAL = frozenset({FieldType.DATE, FieldType.DATETIME})


def parse_params(kind: RuleKind, params: Mapping[str, Any], *, path: str = "params") -> _Params:
    """The parameters of a `kind` rule, validated; InvalidInput names the parameter and the rule it broke."""
    if kind in IMPLICIT:
        raise InvalidInput(N_("'{kind}' comes from the schema and cannot be declared."), field="kind", kind=kind)
    try:
        return PARAMS[kind].model_validate(dict(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join([path, *(str(p) for p in first["loc"])])
        raise InvalidInput(
            N_("Rule parameter '{where}': {problem}"), field=where, where=where, problem=pydantic_message(first)
        ) from None


def typed_bound(value: str, field_type: FieldType, timezone: str) -> object:
    """A range bound as the field's type (a time without an offset is in `timezone`, made UTC as the data is);
    ValueError when it is not one."""
    if field_type is FieldType.INTEGER:
        return int(value)
    if field_type is FieldType.DECIMAL:
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(value) from exc
    if field_type is FieldType.DATE:
        return dt.date.fromisoformat(value)
    if field_type is FieldType.DATETIME:
        moment = dt.datetime.fromisoformat(value)
        return (moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))).astimezone(dt.UTC)
    raise ValueError(value)


def regex_error(pattern: str) -> str | None:
    """Why `pattern` cannot be used (the check runs in Polars' Rust regex engine: no look-around, no backrefs)."""
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except Exception as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reasons = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
        return (reasons[-1] if reasons else lines[-1] if lines else "invalid")[:200]
    return None


def check_rule_fits(
    kind: RuleKind,
    field: str,
    params: _Params,
    schema: Mapping[str, FieldSpec],
    *,
    code_tables: frozenset[str],
    timezone: str,
    other_schema: Mapping[str, FieldSpec] | None = None,
) -> None:
    """Refuse a rule that cannot work on this schema: unknown fields, wrong types, bad bounds or patterns."""
    spec = schema.get(field)
    if spec is None:
        raise InvalidInput(N_("The entry has no field '{name}'."), field="field", name=field)

    def need_field(name: str | None, param: str) -> FieldSpec | None:
        if name is None:
            return None
        found = schema.get(name)
        if found is None:
            raise InvalidInput(N_("The entry has no field '{name}'."), field=f"params.{param}", name=name)
        return found

    if isinstance(params, EnumParams):
        if (params.values is None) == (params.code_table is None):
            raise InvalidInput(N_("Give either the allowed values or a code table, not both."), field="params")
        if params.code_table is not None and params.code_table not in code_tables:
            raise InvalidInput(
                N_("There is no code table '{name}'."), field="params.code_table", name=params.code_table
            )
    elif isinstance(params, PatternParams):
        problem = regex_error(params.regex)
        if problem:
            raise InvalidInput(N_("The pattern cannot be used: {problem}"), field="params.regex", problem=problem)
    elif isinstance(params, RangeParams):
        if spec.type not in NUMERIC | TEMPORAL:
            raise InvalidInput(N_("A range needs a number, date or time field."), field="field")
        if params.min is None and params.max is None:
            raise InvalidInput(N_("Give a minimum, a maximum or both."), field="params")
        bounds = []
        for name in ("min", "max"):
            raw = getattr(params, name)
            if raw is None:
                continue
            try:
                bounds.append(typed_bound(raw, spec.type, timezone))
            except ValueError:
                raise InvalidInput(
                    N_("'{value}' is not a value of the field's type."), field=f"params.{name}", value=raw
                ) from None
        if len(bounds) == 2 and bounds[0] > bounds[1]:  # type: ignore[operator]
            raise InvalidInput(N_("The minimum is larger than the maximum."), field="params.min")
    elif isinstance(params, LengthParams):
        if params.min is None and params.max is None:
            raise InvalidInput(N_("Give a minimum, a maximum or both."), field="params")
        if params.min is not None and params.max is not None and params.min > params.max:
            raise InvalidInput(N_("The minimum is larger than the maximum."), field="params.min")
    elif isinstance(params, ResidentIdParams):
        birth = need_field(params.birth_date_field, "birth_date_field")
        if birth is not None and birth.type is not FieldType.DATE:
            raise InvalidInput(N_("'{name}' is not a date field."), field="params.birth_date_field", name=birth.name)
        need_field(params.sex_field, "sex_field")
    elif isinstance(params, DateSanityParams):
        if spec.type not in TEMPORAL:
            raise InvalidInput(N_("This rule needs a date or time field."), field="field")
    elif isinstance(params, CrossFieldParams):
        other = need_field(params.other, "other")
        assert other is not None
        comparable = (spec.type == other.type) or (spec.type in NUMERIC and other.type in NUMERIC)
        if not comparable or other.name == field:
            raise InvalidInput(
                N_("'{name}' cannot be compared with '{other}'."), field="params.other", name=field, other=other.name
            )
    elif isinstance(params, RequiredIfParams):
        need_field(params.other, "other")
    elif isinstance(params, CompareParams):
        for local in params.match:
            need_field(local, "match")
        if other_schema is None:
            raise InvalidInput(N_("No catalogue entry '{code}'."), field="params.entry", code=params.entry)
        for theirs in [*params.match.values(), *([params.other_field] if params.other_field else [])]:
            if theirs not in other_schema:
                raise InvalidInput(
                    N_("Entry '{code}' has no field '{name}'."), field="params.match", code=params.entry, name=theirs
                )
        if params.mode != "exists" and params.other_field is None:
            raise InvalidInput(N_("Name the other entry's field to compare with."), field="params.other_field")
