"""Validation rules without a database: identifier checks, rule parameters, compiled checks over a batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc

from smartcity.catalog.schemas import FieldSpec
from smartcity.catalog.vocab import FieldType
from smartcity.demo.catalog_seed import ENTRIES
from smartcity.ingest.formats.read import ROW
from smartcity.ingest.rules.codetables import BUILTIN
from smartcity.ingest.rules.compile import RuleRecord, compile_checks, prepare
from smartcity.ingest.rules.kinds import CompareParams, RuleKind, check_rule_fits, parse_params, regex_error
from smartcity.ingest.ruleset import suggest_rules
from smartcity.ingest.validate import Evaluation, attach_comparison, attach_unique_lookup, evaluate
from smartcity.ingest.vocab import Severity
from smartcity.platform import identifiers as ids
from smartcity.platform.errors import InvalidInput

TODAY = dt.date(2024, 6, 1)
ZONE = "Asia/Shanghai"
TABLES = {name: table.codes() for name, table in BUILTIN.items()} | {"towns": {"330281004": "阳明街道"}}
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
OTHER_ENTRY = "330281-MZJ-00001"
Problems = dict[int, list[tuple[str, str, str]]]


def gb11643(body: str) -> str:
    """`body` (17 digits) with its GB 11643 check character: weights 2^(17-i) mod 11, check (12 - sum) mod 11."""
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(body))
    check = (12 - total % 11) % 11
    return body + ("X" if check == 10 else str(check))


def with_uscc_check(body: str) -> str:
    return body + uscc.calc_check_digit(body)


def spec(name: str, field_type: FieldType = FieldType.STRING, **options: Any) -> FieldSpec:
    return FieldSpec(name=name, title=name, type=field_type, **options)


KEY = spec("id", key=True, required=True)


def declare(
    schema: list[FieldSpec],
    field: str,
    kind: RuleKind,
    params: Mapping[str, Any],
    *,
    rule_id: int = 1,
    severity: Severity = Severity.ERROR,
    other_schema: Mapping[str, FieldSpec] | None = None,
) -> RuleRecord:
    """A rule as a steward declares it: parameters parsed and checked against the schema first."""
    parsed = parse_params(kind, params)
    by_name = {s.name: s for s in schema}
    check_rule_fits(
        kind, field, parsed, by_name, code_tables=frozenset(TABLES), timezone=ZONE, other_schema=other_schema
    )
    return RuleRecord(rule_id, field, kind, parsed, severity)


def run(
    schema: list[FieldSpec],
    columns: dict[str, list[str | None]],
    rules: list[RuleRecord] | None = None,
    attach: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> Evaluation:
    """Prepare, compile and evaluate a batch whose rows are numbered from 2 (the header is row 1)."""
    rules = rules or []
    height = len(next(iter(columns.values())))
    raw = pl.DataFrame({n: pl.Series(n, v, dtype=pl.String) for n, v in columns.items()}).with_columns(
        pl.Series(ROW, range(2, 2 + height), dtype=pl.Int64)
    )
    prepared = prepare(raw, schema, rules, timezone=ZONE)
    if attach is not None:
        prepared = attach(prepared)
    compiled = compile_checks(schema, rules, present=set(columns), today=TODAY, timezone=ZONE, code_tables=TABLES)
    assert compiled.skipped == []
    return evaluate(raw, prepared, compiled, schema)


def problems(evaluation: Evaluation) -> Problems:
    return {r.row: [(p["field"], p["kind"], p["detail"]) for p in r.problems] for r in evaluation.problem_rows}


def ids_of(n: int) -> list[str | None]:
    return [str(i) for i in range(1, n + 1)]


# --- identifiers: the Polars expressions agree with the scalar reference ---------------------------------------


EDGES = [TODAY, TODAY + dt.timedelta(days=1), dt.date(1880, 1, 1), dt.date(1879, 12, 31)]
BIRTHS = st.one_of(st.sampled_from(EDGES), st.dates(dt.date(1870, 1, 1), dt.date(2030, 12, 31)))
DATES = BIRTHS.map(lambda d: f"{d:%Y%m%d}")
YMD = st.tuples(st.integers(1850, 2099), st.integers(0, 13), st.integers(0, 32))
ANY_YMD = YMD.map(lambda d: f"{d[0]:04d}{d[1]:02d}{d[2]:02d}")


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    """Known and unknown regions, real and impossible birth dates, right and wrong check characters."""
    region = draw(st.sampled_from(["330281", "330200", "110101", "999999", "000000"]))
    body = f"{region}{draw(st.one_of(DATES, ANY_YMD))}{draw(st.integers(0, 999)):03d}"
    if draw(st.booleans()):
        return gb11643(body)
    return body + draw(st.sampled_from("0123456789Xx"))


@st.composite
def valid_resident_ids(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=dt.date(1880, 1, 1), max_value=TODAY))
    return gb11643(f"330281{born:%Y%m%d}{draw(st.integers(0, 999)):03d}")


RANDOM_RIC = st.builds(
    lambda body, check: body + check, st.text("0123456789", min_size=17, max_size=17), st.sampled_from("0123456789Xx")
)


def ric_expr_verdicts(values: list[str], check_region: bool) -> list[str | None]:
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    return frame.select(ids.ric_problem_expr(pl.col("v"), today=TODAY, check_region=check_region)).to_series().to_list()


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(RANDOM_RIC, resident_ids()), min_size=1, max_size=30), check_region=st.booleans())
def test_resident_id_expression_matches_scalar(values: list[str], check_region: bool) -> None:
    expected = [ids.resident_id_problem(v, today=TODAY, check_region=check_region) for v in values]
    assert ric_expr_verdicts(values, check_region) == expected


@settings(max_examples=100, deadline=None)
@given(values=st.lists(valid_resident_ids(), min_size=1, max_size=20))
def test_constructed_resident_ids_are_valid_both_ways(values: list[str]) -> None:
    assert [ids.resident_id_problem(v, today=TODAY) for v in values] == [None] * len(values)
    assert ric_expr_verdicts(values, True) == [None] * len(values)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from(USCC_ALPHABET))
    digits = draw(st.sampled_from(["0123456789", USCC_ALPHABET]))
    body = (
        first
        + draw(st.sampled_from(USCC_ALPHABET))
        + draw(st.text(digits, min_size=6, max_size=6))
        + draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    )
    code = with_uscc_check(body) if draw(st.booleans()) else body + draw(st.sampled_from(USCC_ALPHABET))
    return code.lower() if draw(st.booleans()) else code


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(credit_codes(), st.text(USCC_ALPHABET, max_size=19)), min_size=1, max_size=30))
def test_uscc_expression_matches_scalar(values: list[str]) -> None:
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    verdicts = frame.select(ids.uscc_problem_expr(pl.col("v"))).to_series().to_list()
    assert verdicts == [ids.uscc_problem(v) for v in values]


def test_letter_first_uscc_is_valid_though_stdnum_refuses_it() -> None:
    village = with_uscc_check("N2330281MA2AB1234")  # 村集体经济组织, registered by the agriculture authority
    other = with_uscc_check("Y1330281MA2AB1234")
    company = with_uscc_check("91330281MA2AB1234")
    wrong = village[:-1] + ("0" if village[-1] != "0" else "1")
    assert [ids.stdnum_uscc_problem(v) for v in (village, other, company)] == ["format", "format", None]
    values, expected = [village, other, company, wrong, "N2330281"], [None, None, None, "checksum", "format"]
    assert [ids.uscc_problem(v) for v in values] == expected
    assert pl.DataFrame({"v": values}).select(ids.uscc_problem_expr(pl.col("v"))).to_series().to_list() == expected


# --- declared rules over a batch -------------------------------------------------------------------------------

SINGLE_FIELD_CASES: list[tuple[str, FieldSpec, list[str | None], RuleKind, dict[str, Any], Problems]] = [
    ("enum-values", spec("status"), ["1", "3", None, "2"], RuleKind.ENUM, {"values": ["1", "2"]}, {3: ["enum"]}),
    ("enum-gb2261", spec("sex"), ["1", "2", "5", "9"], RuleKind.ENUM, {"code_table": "gb2261_1"}, {4: ["enum"]}),
    ("enum-towns", spec("town"), ["330281004", "330281999"], RuleKind.ENUM, {"code_table": "towns"}, {3: ["enum"]}),
    ("pattern", spec("hh"), ["330281001", "33028100A", "3302810011", " 330281002 "], RuleKind.PATTERN,
     {"regex": r"\d{9}"}, {3: ["pattern"], 4: ["pattern"]}),
    ("range-int", spec("age", FieldType.INTEGER), ["-1", "30", "151", None], RuleKind.RANGE,
     {"min": "0", "max": "150"}, {2: ["below_min"], 4: ["above_max"]}),
    ("range-date", spec("day", FieldType.DATE), ["1999-12-31", "2024/1/5", "20250101", "2000-01-01"], RuleKind.RANGE,
     {"min": "2000-01-01", "max": "2024-12-31"}, {2: ["below_min"], 4: ["above_max"]}),
    ("range-datetime", spec("seen", FieldType.DATETIME), ["2023-12-31 23:59:59", "2024-01-01 00:00:00",
     "2024-01-01T00:00:00+08:00", "2023-12-31T15:59:59+00:00", "2025-01-01 00:00:00"], RuleKind.RANGE,
     {"min": "2024-01-01T00:00:00", "max": "2024-12-31T23:59:59+08:00"}, {2: ["below_min"], 5: ["below_min"],
     6: ["above_max"]}),
    ("length", spec("name"), ["张", "张三", "余姚市阳明街道"], RuleKind.LENGTH, {"min": 2, "max": 4},
     {2: ["too_short"], 4: ["too_long"]}),
    ("uscc", spec("uscc"), ["91330281MA2AB12349", "91330281MA2AB12348", "9133028", "n2330281ma2ab1234q",
     "91330281-MA2AB1234-9"], RuleKind.USCC, {}, {3: ["checksum"], 4: ["format"]}),
    ("phone", spec("phone"), ["13812345678", "0574-62345678", "12345678", "+86 13812345678", "057462345678"],
     RuleKind.PHONE, {}, {4: ["phone"]}),
    ("phone-mobile-only", spec("phone"), ["13812345678", "0574-62345678"], RuleKind.PHONE, {"allow_landline": False},
     {3: ["phone"]}),
    ("date-sanity", spec("born", FieldType.DATE), ["2025-01-01", "1899-12-31", "1990-01-01", "2024-06-01"],
     RuleKind.DATE_SANITY, {}, {2: ["future"], 3: ["too_early"]}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "values", "kind", "params", "expected"),
    [c[1:] for c in SINGLE_FIELD_CASES],
    ids=[c[0] for c in SINGLE_FIELD_CASES],
)
def test_single_field_rule(
    field: FieldSpec, values: list[str | None], kind: RuleKind, params: dict[str, Any], expected: Problems
) -> None:
    schema = [KEY, field]
    rule = declare(schema, field.name, kind, params)
    evaluation = run(schema, {"id": ids_of(len(values)), field.name: values}, [rule])
    assert problems(evaluation) == {row: [(field.name, kind.value, d) for d in ds] for row, ds in expected.items()}
    accepted = [row for row in range(2, 2 + len(values)) if row not in expected]
    assert evaluation.accepted.get_column(ROW).to_list() == accepted


def test_unique_within_the_batch_and_against_the_store() -> None:
    schema = [KEY, spec("hh")]
    rule = declare(schema, "hh", RuleKind.UNIQUE, {})
    stored = pl.DataFrame({"value": ["H3", "H2"], "key": ["3", "9"]})  # H3 is this record's own stored value
    columns: dict[str, list[str | None]] = {"id": ids_of(5), "hh": ["H1", "H1", "H3", "H2", None]}
    found = problems(run(schema, columns, [rule], lambda f: attach_unique_lookup(f, 1, "hh", stored)))
    assert found == {
        2: [("hh", "unique", "duplicate_in_batch")],
        3: [("hh", "unique", "duplicate_in_batch")],
        5: [("hh", "unique", "duplicate_in_store")],
    }
    empty = pl.DataFrame({"value": [], "key": []}, schema={"value": pl.String, "key": pl.String})
    found = problems(run(schema, columns, [rule], lambda f: attach_unique_lookup(f, 1, "hh", empty)))
    assert sorted(found) == [2, 3]


def test_resident_id_with_birth_date_and_sex_fields() -> None:
    schema = [KEY, spec("resident_id"), spec("birth_date", FieldType.DATE), spec("gender_code")]
    rule = declare(
        schema, "resident_id", RuleKind.RESIDENT_ID, {"birth_date_field": "birth_date", "sex_field": "gender_code"}
    )
    male = gb11643("33028119900101013")
    female = gb11643("33028119851231024")
    ends_in_x = next(v for n in range(1000) if (v := gb11643(f"33028119700101{n:03d}")).endswith("X"))
    rows: list[tuple[str, str | None, str | None]] = [
        (male, "1990-01-01", "1"),
        (gb11643("33028120000229115"), "2000-02-28", "1"),
        (female, "1985/12/31", "1"),
        (female[:-1] + ("1" if female[-1] != "1" else "2"), None, None),
        ("33028119900101", None, None),
        (gb11643("99999919900101013"), None, None),
        (gb11643("33028120300101013"), None, None),
        (gb11643("33028119900230013"), None, None),
        (f"{ends_in_x[:6]} {ends_in_x[6:14]}-{ends_in_x[14:-1]}x", "1970-01-01", None),
        (male, None, "9"),
    ]
    columns = {"id": ids_of(len(rows)), **{s.name: [r[i] for r in rows] for i, s in enumerate(schema[1:])}}
    expected = ["birth_date_mismatch", "sex_mismatch", "checksum", "format", "region", "birth_date", "birth_date"]
    assert problems(run(schema, columns, [rule])) == {
        row: [("resident_id", "resident_id", detail)] for row, detail in zip(range(3, 10), expected, strict=True)
    }


def test_cross_field_and_required_if() -> None:
    schema = [KEY, spec("valid_from", FieldType.DATE), spec("valid_to", FieldType.DATE), spec("status"),
              spec("death_date", FieldType.DATE)]  # fmt: skip
    rules = [
        declare(schema, "valid_to", RuleKind.CROSS_FIELD, {"op": ">=", "other": "valid_from"}, rule_id=1),
        declare(schema, "death_date", RuleKind.REQUIRED_IF, {"other": "status", "values": ["2"]}, rule_id=2),
    ]
    columns: dict[str, list[str | None]] = {
        "id": ids_of(4),
        "valid_from": ["2024-01-01", "2024-06-01", "2024-01-01", "2024-03-01"],
        "valid_to": ["2024-12-31", "2024-05-31", None, "2024/3/1"],
        "status": ["1", "2", "2", None],
        "death_date": [None, "2024-01-01", None, None],
    }
    assert problems(run(schema, columns, rules)) == {
        3: [("valid_to", "cross_field", "cross_field")],
        4: [("death_date", "required_if", "required_if")],
    }


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("normalized", {3: "mismatch"}), ("equal", {2: "mismatch", 3: "mismatch"}), ("exists", {4: "missing"})],
)
def test_compare_with_another_department(mode: str, expected: dict[int, str]) -> None:
    schema = [KEY, spec("person"), spec("address")]
    theirs = {"id_number": spec("id_number"), "home_address": spec("home_address")}
    params = {"entry": OTHER_ENTRY, "match": {"person": "id_number"}, "other_field": "home_address", "mode": mode}
    rule = declare(schema, "address", RuleKind.COMPARE, params, other_schema=theirs)
    other = pl.DataFrame(
        {"person": ["A", "B", "D"], "value": ["余姚市阳明街道新建北路８８号", "余姚市凤山街道", "余姚市兰江街道"]}
    )
    columns: dict[str, list[str | None]] = {
        "id": ids_of(4),
        "person": ["A", "B", "C", "D"],
        "address": ["浙江省余姚市阳明街道新建北路88号", "余姚市梨洲街道", "余姚市低塘街道", None],
    }

    def attach(frame: pl.DataFrame) -> pl.DataFrame:
        assert isinstance(rule.params, CompareParams)
        return attach_comparison(frame, 1, rule.params, other)

    found = problems(run(schema, columns, [rule], attach))
    assert found == {row: [("address", "compare", detail)] for row, detail in expected.items()}


# --- implicit checks, warnings and counts ------------------------------------------------------------------------

TYPED_SCHEMA = [KEY, spec("count", FieldType.INTEGER), spec("amount", FieldType.DECIMAL), spec("day", FieldType.DATE),
                spec("flag", FieldType.BOOLEAN), spec("name", required=True)]  # fmt: skip
TYPED_ROWS: list[tuple[str | None, ...]] = [
    ("1", "42", "3.50", "2024-01-05", "是", "甲"),
    ("2", "x", "1.2.3", "2024-13-01", "maybe", "乙"),
    ("3", "+7", ".5", "2024/1/5", "否", "丙"),
    ("4", None, "-0.25", "20240105", "TRUE", "丁"),
    ("5", "12345678901234567890", "1", "2024.01.05", "0", "戊"),
    ("6", "0", "0", "2024-02-29", "1", None),
    ("1", "1", "1", "2024-01-01", "1", "己"),
    (None, "1", "1", "2024-01-01", "1", "庚"),
]


def typed_batch() -> Evaluation:
    columns = {s.name: [r[i] for r in TYPED_ROWS] for i, s in enumerate(TYPED_SCHEMA)}
    return run(TYPED_SCHEMA, columns)


def test_required_type_and_duplicate_key() -> None:
    evaluation = typed_batch()
    assert problems(evaluation) == {
        2: [("id", "duplicate_key", "duplicate_key")],
        3: [("count", "type", "integer"), ("amount", "type", "decimal"), ("day", "type", "date"),
            ("flag", "type", "boolean")],
        6: [("count", "type", "integer")],
        7: [("name", "required", "required")],
        8: [("id", "duplicate_key", "duplicate_key")],
        9: [("id", "required", "required")],
    }  # fmt: skip
    assert (evaluation.total, evaluation.rejected, evaluation.warned) == (8, 6, 0)
    assert evaluation.accepted.to_dicts() == [
        {ROW: 4, "id": "3", "count": 7, "amount": ".5", "day": dt.date(2024, 1, 5), "flag": False, "name": "丙"},
        {ROW: 5, "id": "4", "count": None, "amount": "-0.25", "day": dt.date(2024, 1, 5), "flag": True, "name": "丁"},
    ]
    assert evaluation.clean_keys.to_list() == ["3", "4"]


def test_counts_rows_per_field_kind_and_detail() -> None:
    counts = [(c["field"], c["kind"], c["detail"], c["rows"]) for c in typed_batch().counts]
    assert counts == [
        ("count", "type", "integer", 2), ("id", "duplicate_key", "duplicate_key", 2),
        ("amount", "type", "decimal", 1), ("day", "type", "date", 1), ("flag", "type", "boolean", 1),
        ("id", "required", "required", 1), ("name", "required", "required", 1),
    ]  # fmt: skip


def test_warning_keeps_the_row_but_reports_it() -> None:
    schema = [KEY, spec("phone")]
    rule = declare(schema, "phone", RuleKind.PHONE, {}, severity=Severity.WARNING)
    evaluation = run(schema, {"id": ["1", "2"], "phone": ["13812345678", "12345"]}, [rule])
    assert [(r.row, r.has_error, r.problems[0]["severity"]) for r in evaluation.problem_rows] == [(3, False, "warning")]
    assert evaluation.problem_rows[0].values == {"id": "2", "phone": "12345"}
    assert (evaluation.rejected, evaluation.warned) == (0, 1)
    assert evaluation.accepted.get_column(ROW).to_list() == [2, 3]
    assert evaluation.clean_keys.to_list() == ["1"]


# --- rules that cannot work are refused, naming the parameter -----------------------------------------------------

FIT_SCHEMA = [KEY, spec("name"), spec("age", FieldType.INTEGER), spec("born", FieldType.DATE),
              spec("until", FieldType.DATE), spec("seen", FieldType.DATETIME)]  # fmt: skip
THEIRS = {"id_number": spec("id_number"), "home_address": spec("home_address")}
COMPARE = {"entry": OTHER_ENTRY, "match": {"id": "id_number"}, "other_field": "home_address"}


@pytest.mark.parametrize(
    ("kind", "field", "params", "where", "message"),
    [
        (RuleKind.PATTERN, "nope", {"regex": "a"}, "field", "The entry has no field 'nope'."),
        (RuleKind.RANGE, "name", {"min": "1"}, "field", "A range needs a number, date or time field."),
        (RuleKind.RANGE, "age", {"min": "10", "max": "1"}, "params.min", "The minimum is larger than the maximum."),
        (RuleKind.RANGE, "born", {"max": "2024-13-01"}, "params.max", "'2024-13-01' is not a value of"),
        (RuleKind.RANGE, "seen", {"min": "2024-01-01T09:00:00+08:00", "max": "2024-01-01T08:30:00"}, "params.min",
         "The minimum is larger than the maximum."),
        (RuleKind.RANGE, "age", {}, "params", "Give a minimum, a maximum or both."),
        (RuleKind.LENGTH, "name", {"min": 5, "max": 2}, "params.min", "The minimum is larger than the maximum."),
        (RuleKind.PATTERN, "name", {"regex": r"(?<=a)b"}, "params.regex", "The pattern cannot be used: "),
        (RuleKind.PATTERN, "name", {"regex": r"(a)\1"}, "params.regex", "The pattern cannot be used: "),
        (RuleKind.ENUM, "name", {"values": ["1"], "code_table": "gb2261_1"}, "params",
         "Give either the allowed values or a code table, not both."),
        (RuleKind.ENUM, "name", {}, "params", "Give either the allowed values or a code table, not both."),
        (RuleKind.ENUM, "name", {"code_table": "gb9999"}, "params.code_table", "There is no code table 'gb9999'."),
        (RuleKind.RESIDENT_ID, "id", {"birth_date_field": "nope"}, "params.birth_date_field", "no field 'nope'"),
        (RuleKind.RESIDENT_ID, "id", {"birth_date_field": "name"}, "params.birth_date_field", "'name' is not a date"),
        (RuleKind.RESIDENT_ID, "id", {"sex_field": "sex"}, "params.sex_field", "The entry has no field 'sex'."),
        (RuleKind.DATE_SANITY, "name", {}, "field", "This rule needs a date or time field."),
        (RuleKind.CROSS_FIELD, "until", {"op": ">=", "other": "nope"}, "params.other", "no field 'nope'"),
        (RuleKind.CROSS_FIELD, "name", {"op": "==", "other": "age"}, "params.other", "'name' cannot be compared"),
        (RuleKind.CROSS_FIELD, "until", {"op": ">=", "other": "until"}, "params.other", "cannot be compared"),
        (RuleKind.REQUIRED_IF, "name", {"other": "nope", "values": ["1"]}, "params.other", "no field 'nope'"),
        (RuleKind.COMPARE, "name", {**COMPARE, "match": {"nope": "id_number"}}, "params.match", "no field 'nope'"),
        (RuleKind.COMPARE, "name", {**COMPARE, "match": {"id": "sfzh"}}, "params.match",
         f"Entry '{OTHER_ENTRY}' has no field 'sfzh'."),
        (RuleKind.COMPARE, "name", {**COMPARE, "other_field": "addr"}, "params.match", "has no field 'addr'"),
        (RuleKind.COMPARE, "name", {**COMPARE, "other_field": None}, "params.other_field", "Name the other entry's"),
    ],
)  # fmt: skip
def test_rule_that_does_not_fit_is_refused(
    kind: RuleKind, field: str, params: dict[str, Any], where: str, message: str
) -> None:
    schema = {s.name: s for s in FIT_SCHEMA}
    parsed = parse_params(kind, params)
    with pytest.raises(InvalidInput) as info:
        check_rule_fits(kind, field, parsed, schema, code_tables=frozenset(TABLES), timezone=ZONE, other_schema=THEIRS)
    assert info.value.field == where
    assert message in str(info.value)


def test_compare_with_unknown_entry_is_refused() -> None:
    parsed = parse_params(RuleKind.COMPARE, COMPARE)
    with pytest.raises(InvalidInput, match=f"No catalogue entry '{OTHER_ENTRY}'") as info:
        check_rule_fits(
            RuleKind.COMPARE, "name", parsed, {s.name: s for s in FIT_SCHEMA}, code_tables=frozenset(), timezone=ZONE
        )
    assert info.value.field == "params.entry"


def test_regex_error_says_why() -> None:
    assert regex_error(r"\d{9}") is None
    assert "look-around" in (regex_error(r"(?=a)b") or "")


@pytest.mark.parametrize(
    ("kind", "params", "where"),
    [
        (RuleKind.ENUM, {"values": []}, "params.values"),
        (RuleKind.PATTERN, {}, "params.regex"),
        (RuleKind.CROSS_FIELD, {"op": "=~", "other": "x"}, "params.op"),
        (RuleKind.LENGTH, {"min": -1}, "params.min"),
        (RuleKind.UNIQUE, {"bogus": 1}, "params.bogus"),
        (RuleKind.COMPARE, {**COMPARE, "mode": "fuzzy"}, "params.mode"),
        (RuleKind.REQUIRED, {}, "kind"),
    ],
)
def test_bad_parameters_are_refused(kind: RuleKind, params: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_params(kind, params)
    assert info.value.field == where
    if where != "kind":
        assert str(info.value).startswith(f"Rule parameter '{where}': ")


# --- suggestions from the schema ----------------------------------------------------------------------------------


def test_suggestions_for_the_population_register() -> None:
    entry = next(e for e in ENTRIES if e["code"] == "330281-GAJ-00001")
    suggested = {(r.field, r.kind): r.params for r in suggest_rules([FieldSpec(**f) for f in entry["fields"]])}
    linked = {"birth_date_field": "birth_date", "sex_field": "gender_code"}
    assert suggested[("resident_id", RuleKind.RESIDENT_ID)] == linked
    assert suggested[("gender_code", RuleKind.ENUM)] == {"code_table": "gb2261_1"}
    assert suggested[("town_code", RuleKind.ENUM)] == {"code_table": "towns"}
    assert suggested[("person_status", RuleKind.ENUM)] == {"values": ["1", "2", "3", "4"]}
    assert suggested[("household_type", RuleKind.ENUM)] == {"values": ["1", "2"]}
    assert suggested[("birth_date", RuleKind.DATE_SANITY)] == {}
    # "12位统计用区划代码，前9位为乡镇（街道）代码" describes a 12-digit code; its numbers are no list of codes.
    assert suggested.get(("village_code", RuleKind.ENUM)) is None
