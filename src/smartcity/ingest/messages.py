"""Problem records in words: one sentence per broken rule, naming the field and the rule, in the reader's language.

Problems are stored as codes (field, kind, detail, rule id); the sentence is made when shown, from the batch's
snapshot of its schema titles and rules, so a report reads the same after the rules change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smartcity.ingest.rules.codetables import BUILTIN, TOWNS_TABLE, TOWNS_TITLE
from smartcity.ingest.rules.kinds import KIND_LABELS, RuleKind
from smartcity.platform.i18n import N_, Message, gettext

SENTENCES: dict[tuple[str, str], str] = {
    ("required", "required"): N_("'{title}' is required but empty."),
    ("type", "integer"): N_("'{title}' must be a whole number."),
    ("type", "decimal"): N_("'{title}' must be a number."),
    ("type", "boolean"): N_("'{title}' must be yes or no (是/否, 1/0, true/false)."),
    ("type", "date"): N_("'{title}' must be a date such as 2024-03-01."),
    ("type", "datetime"): N_("'{title}' must be a date and time such as 2024-03-01 08:30:00."),
    ("duplicate_key", "duplicate_key"): N_("The business key ({keys}) occurs more than once in this batch."),
    ("enum", "enum"): N_("'{title}' is not in {allowed}."),
    ("pattern", "pattern"): N_("'{title}' does not match the pattern {pattern}."),
    ("range", "below_min"): N_("'{title}' is below the minimum {min}."),
    ("range", "above_max"): N_("'{title}' is above the maximum {max}."),
    ("length", "too_short"): N_("'{title}' is shorter than {min} characters."),
    ("length", "too_long"): N_("'{title}' is longer than {max} characters."),
    ("unique", "duplicate_in_batch"): N_("'{title}' must be unique but occurs more than once in this batch."),
    ("unique", "duplicate_in_store"): N_("'{title}' must be unique but is already stored for another record."),
    ("resident_id", "format"): N_("'{title}' is not an 18-character resident ID (17 digits, then a digit or X)."),
    ("resident_id", "checksum"): N_("'{title}' has a wrong check digit (GB 11643)."),
    ("resident_id", "birth_date"): N_("'{title}' holds an impossible birth date."),
    ("resident_id", "region"): N_("'{title}' starts with an unknown division code (GB/T 2260)."),
    ("resident_id", "birth_date_mismatch"): N_("The birth date in '{title}' differs from '{other}'."),
    ("resident_id", "sex_mismatch"): N_("The sex in '{title}' differs from '{other}'."),
    ("uscc", "format"): N_("'{title}' is not an 18-character unified social credit code."),
    ("uscc", "checksum"): N_("'{title}' has a wrong check character (GB 32100)."),
    ("phone", "phone"): N_("'{title}' is not a mobile number or a landline number with area code."),
    ("date_sanity", "future"): N_("'{title}' lies in the future."),
    ("date_sanity", "too_early"): N_("'{title}' is earlier than {earliest}."),
    ("cross_field", "cross_field"): N_("'{title}' must be {op} '{other}'."),
    ("required_if", "required_if"): N_("'{title}' is required when '{other}' is {values}."),
    ("compare", "mismatch"): N_("'{title}' differs from '{other}' in {entry} of another department."),
    ("compare", "missing"): N_("{entry} of another department has no record with the same {match}."),
}

DETAIL_LABELS: dict[str, str] = {
    "required": N_("empty"),
    "integer": N_("not a whole number"),
    "decimal": N_("not a number"),
    "boolean": N_("not yes/no"),
    "date": N_("not a date"),
    "datetime": N_("not a date and time"),
    "duplicate_key": N_("key repeated"),
    "enum": N_("not an allowed value"),
    "pattern": N_("pattern not matched"),
    "below_min": N_("below the minimum"),
    "above_max": N_("above the maximum"),
    "too_short": N_("too short"),
    "too_long": N_("too long"),
    "duplicate_in_batch": N_("repeated in the batch"),
    "duplicate_in_store": N_("already stored"),
    "format": N_("wrong format"),
    "checksum": N_("wrong check digit"),
    "birth_date": N_("impossible birth date"),
    "region": N_("unknown division code"),
    "birth_date_mismatch": N_("birth date differs"),
    "sex_mismatch": N_("sex differs"),
    "phone": N_("not a phone number"),
    "future": N_("in the future"),
    "too_early": N_("too early"),
    "cross_field": N_("inconsistent fields"),
    "required_if": N_("missing"),
    "mismatch": N_("differs from the other department"),
    "missing": N_("not found in the other department"),
}


def detail_label(kind: str, detail: str, locale: str) -> str:
    """Short label of a problem for report tables, e.g. 公民身份号码规则 · 校验位错误."""
    kind_label = gettext(locale, KIND_LABELS.get(RuleKind(kind), kind)) if kind in set(RuleKind) else kind
    if kind in (RuleKind.REQUIRED, RuleKind.DUPLICATE_KEY) or detail == kind:
        return kind_label
    return f"{kind_label} · {gettext(locale, DETAIL_LABELS.get(detail, detail))}"


def problem_message(
    problem: Mapping[str, Any],
    *,
    titles: Mapping[str, str],
    rules: Mapping[int, Mapping[str, Any]],
    keys: list[str],
    code_table_titles: Mapping[str, str],
    locale: str,
) -> str:
    """One problem as a sentence in `locale`."""
    kind, detail, field = str(problem["kind"]), str(problem["detail"]), str(problem["field"])
    rule = rules.get(int(problem["rule_id"])) if problem.get("rule_id") is not None else None
    params: dict[str, Any] = dict(rule.get("params", {})) if rule else {}
    values: dict[str, object] = {"title": titles.get(field, field)}
    if kind == RuleKind.DUPLICATE_KEY:
        values["keys"] = "、".join(titles.get(k, k) for k in keys)
    elif kind == RuleKind.ENUM:
        table = params.get("code_table")
        if table:
            builtin = BUILTIN.get(table)
            if builtin is not None:
                label: object = Message(builtin.title)
            elif table == TOWNS_TABLE:
                label = Message(TOWNS_TITLE)
            else:
                label = code_table_titles.get(table, table)
            values["allowed"] = Message(N_("the code table {table}"), table=label)
        else:
            allowed = list(params.get("values") or [])
            values["allowed"] = "、".join(allowed[:12]) + ("…" if len(allowed) > 12 else "")
    elif kind == RuleKind.PATTERN:
        values["pattern"] = params.get("hint") or params.get("regex", "")
    elif kind in (RuleKind.RANGE, RuleKind.LENGTH):
        values.update(min=params.get("min"), max=params.get("max"))
    elif kind == RuleKind.RESIDENT_ID:
        other = params.get("birth_date_field") if detail == "birth_date_mismatch" else params.get("sex_field")
        values["other"] = titles.get(str(other), str(other))
    elif kind == RuleKind.DATE_SANITY:
        values["earliest"] = params.get("earliest", "")
    elif kind == RuleKind.CROSS_FIELD:
        values.update(op=params.get("op", ""), other=titles.get(str(params.get("other")), params.get("other")))
    elif kind == RuleKind.REQUIRED_IF:
        values.update(
            other=titles.get(str(params.get("other")), params.get("other")),
            values="、".join(params.get("values") or []),
        )
    elif kind == RuleKind.COMPARE:
        values.update(
            entry=params.get("entry_name") or params.get("entry", ""),
            other=params.get("other_title") or params.get("other_field", ""),
            match="、".join(titles.get(k, k) for k in params.get("match", {})),
        )
    template = SENTENCES.get((kind, detail), N_("'{title}' breaks a rule."))
    return Message(template, **values).render(locale)
