"""The NGSI-LD query language (`q`, GS CIM 009 clause 4.9) and entity type expressions: parsed once into a tree,
evaluated against an entity's stored (expanded) attributes.

    q = term *( (";" / "|") term ),  a term: attribute path [op value], or a parenthesised q
    op: == != > >= < <= ~= !~=;  value: number, "string", date-time, date, time, true/false, URI,
        a range (1..5) or a list (1,2,3) after == and !=
    attribute path: name, name.sub-attribute (or .observedAt .unitCode …), name[key][key] into a JSON value

`;` (and) binds tighter than `|` (or).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smartcity.ngsild.entity import MEMBERS, value_of
from smartcity.ngsild.errors import BadRequestData
from smartcity.ngsild.ldcontext import TermMap

OPERATORS = ("==", "!=", ">=", "<=", "~=", "!~=", ">", "<")
_OPERATOR = re.compile(r"!~=|==|!=|>=|<=|~=|>|<")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?$")
_ATTR = re.compile(r"^[^\s<>\"'=;()\[\]{}&?|\\,`.!~]+(\.[^\s<>\"'=;()\[\]{}&?|\\,`.!~]+)*(\[[^\[\]\s]+\])*$")
TIME_MEMBERS = frozenset({"observedAt", "createdAt", "modifiedAt"})


@dataclass(frozen=True)
class Value:
    """A literal of the query, as its kind: number, string, datetime, date, time, boolean or uri."""

    kind: str
    value: Any


@dataclass(frozen=True)
class Term:
    path: tuple[str, ...]  # expanded attribute, then sub-attribute or member names
    keys: tuple[str, ...]  # [key] path into a JSON value
    op: str | None = None
    values: tuple[Value, ...] = ()
    range: bool = False
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Op:
    kind: str  # "and" / "or"
    parts: tuple[Node, ...]


Node = Term | Op


class _Parser:
    def __init__(self, text: str, terms: TermMap) -> None:
        self.text = text
        self.pos = 0
        self.terms = terms

    def fail(self, message: str) -> BadRequestData:
        return BadRequestData(f"invalid q at character {self.pos + 1} of '{self.text}': {message}")

    def parse(self) -> Node:
        node = self.disjunction()
        if self.pos != len(self.text):
            raise self.fail(f"unexpected '{self.text[self.pos]}'")
        return node

    def disjunction(self) -> Node:
        parts = [self.conjunction()]
        while self.peek("|"):
            self.pos += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Op("or", tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.primary()]
        while self.peek(";"):
            self.pos += 1
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else Op("and", tuple(parts))

    def peek(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def primary(self) -> Node:
        if self.peek("("):
            self.pos += 1
            node = self.disjunction()
            if not self.peek(")"):
                raise self.fail("a '(' is not closed")
            self.pos += 1
            return node
        return self.term()

    def term(self) -> Term:
        start = self.pos
        depth = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif depth == 0 and (char in ";|()" or _OPERATOR.match(self.text, self.pos)):
                break
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            raise self.fail("an attribute name is expected")
        if not _ATTR.match(name):
            raise self.fail(f"'{name}' is not an attribute path")
        path, keys = self.attribute_path(name)
        match = _OPERATOR.match(self.text, self.pos)
        if match is None:
            return Term(path, keys)
        op = match.group(0)
        self.pos = match.end()
        raw = self.raw_value()
        if op in ("~=", "!~="):
            text = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
            try:
                pattern = re.compile(text)
            except re.error as exc:
                raise self.fail(f"the pattern '{text}' is not a regular expression: {exc}") from None
            return Term(path, keys, op, pattern=pattern)
        if op in ("==", "!="):
            if ".." in raw and not raw.startswith('"'):
                low, _, high = raw.partition("..")
                values = (self.literal(low), self.literal(high))
                if values[0].kind != values[1].kind or values[0].kind in ("boolean", "uri"):
                    raise self.fail(f"the range '{raw}' must go from one number, string or time to another of its kind")
                return Term(path, keys, op, values, range=True)
            items = _split_list(raw)
            return Term(path, keys, op, tuple(self.literal(item) for item in items))
        value = self.literal(raw)
        if value.kind in ("boolean", "uri"):
            raise self.fail(f"'{op}' compares numbers, strings and times, not {value.kind}s")
        return Term(path, keys, op, (value,))

    def raw_value(self) -> str:
        start = self.pos
        quoted = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"':
                quoted = not quoted
            elif char == "\\" and quoted:
                self.pos += 1
            elif not quoted and char in ";|)":
                break
            self.pos += 1
        if quoted:
            raise self.fail("a quoted string is not closed")
        raw = self.text[start : self.pos]
        if not raw:
            raise self.fail("a value is expected after the operator")
        return raw

    def literal(self, raw: str) -> Value:
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return Value("string", raw[1:-1].replace('\\"', '"'))
        if raw in ("true", "false"):
            return Value("boolean", raw == "true")
        if _NUMBER.match(raw):
            return Value("number", float(raw))
        if _DATETIME.match(raw):
            try:
                moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise self.fail(f"'{raw}' is not a valid date-time") from None
            return Value("datetime", moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
        if _DATE.match(raw):
            try:
                return Value("date", dt.date.fromisoformat(raw))
            except ValueError:
                raise self.fail(f"'{raw}' is not a valid date") from None
        if _TIME.match(raw):
            return Value("time", raw.rstrip("Z"))
        if ":" in raw and " " not in raw and '"' not in raw:
            return Value("uri", raw)
        raise self.fail(f"'{raw}' is not a number, a quoted string, a date-time, true/false or a URI")

    def attribute_path(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        base, _, rest = name.partition("[")
        keys = tuple(re.findall(r"\[([^\[\]]+)\]", "[" + rest)) if rest else ()
        segments = base.split(".")
        path: list[str] = []
        for index, segment in enumerate(segments):
            if index > 0 and segment in MEMBERS:
                path.append(segment)
                continue
            iri = self.terms.expand(segment)
            if iri is None:
                raise self.fail(f"the @context maps '{segment}' to null")
            path.append(iri)
        return tuple(path), keys


def _split_list(raw: str) -> list[str]:
    items, current, quoted = [], "", False
    for char in raw:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    if any(not item for item in items):
        raise BadRequestData(f"invalid q: the list '{raw}' has an empty item")
    return items


def parse_q(text: str, terms: TermMap) -> Node:
    """The tree of a q expression, or BadRequestData naming where it goes wrong."""
    if not text.strip():
        raise BadRequestData("invalid q: the expression is empty")
    if len(text) > 4000:
        raise BadRequestData("invalid q: the expression is longer than 4,000 characters")
    return _Parser(text, terms).parse()


_MISSING = object()


def _targets(attrs: dict[str, Any], term: Term) -> list[Any]:
    """The values the term's path reaches in an entity (several when an attribute has several instances)."""
    instances = attrs.get(term.path[0])
    if not instances:
        return []
    found: list[Any] = []
    for instance in instances:
        node: Any = instance
        for step in term.path[1:]:
            if not isinstance(node, dict) or step not in node:
                node = _MISSING
                break
            node = node[step]
        if node is _MISSING:
            continue
        last = term.path[-1] if len(term.path) > 1 else None
        value = node if last in MEMBERS else value_of(node)
        if last in TIME_MEMBERS and isinstance(value, str):
            value = _as_time(value)
        for key in term.keys:
            if isinstance(value, dict) and key in value:
                value = value[key]
            else:
                value = _MISSING
                break
        if value is _MISSING:
            continue
        if isinstance(value, dict) and "@value" in value:
            value = value["@value"]
        found.append(value)
    return found


def _as_time(text: str) -> Any:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text


def _coerce(target: Any, literal: Value) -> Any:
    """The target as the literal's kind, or _MISSING when they cannot be compared."""
    kind = literal.kind
    if kind == "number":
        return float(target) if isinstance(target, int | float) and not isinstance(target, bool) else _MISSING
    if kind == "boolean":
        return target if isinstance(target, bool) else _MISSING
    if kind in ("string", "uri", "time"):
        return target if isinstance(target, str) else _MISSING
    if kind == "datetime":
        if isinstance(target, dt.datetime):
            return target if target.tzinfo else target.replace(tzinfo=dt.UTC)
        if isinstance(target, str) and _DATETIME.match(target):
            moment = _as_time(target)
            if isinstance(moment, dt.datetime):
                return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return _MISSING
    if kind == "date":
        if isinstance(target, str) and _DATE.match(target):
            return dt.date.fromisoformat(target)
        if isinstance(target, dt.datetime):
            return target.date()
        return _MISSING
    return _MISSING


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _matches_one(target: Any, term: Term) -> bool:
    if isinstance(target, list):
        if term.op == "!=":
            return all(_matches_one(item, term) for item in target) if target else True
        return any(_matches_one(item, term) for item in target)
    op = term.op
    if op in ("~=", "!~="):
        assert term.pattern is not None
        hit = isinstance(target, str) and term.pattern.search(target) is not None
        return hit if op == "~=" else isinstance(target, str) and not hit
    if term.range:
        low, high = term.values
        value = _coerce(target, low)
        inside = value is not _MISSING and low.value <= value <= high.value
        return inside if op == "==" else value is not _MISSING and not inside
    if op in ("==", "!="):
        equal = any(_coerce(target, v) is not _MISSING and _coerce(target, v) == v.value for v in term.values)
        return equal if op == "==" else not equal
    literal = term.values[0]
    value = _coerce(target, literal)
    return value is not _MISSING and op is not None and _COMPARE[op](value, literal.value)


def evaluate(node: Node, attrs: dict[str, Any]) -> bool:
    """Whether an entity's expanded attributes satisfy the query."""
    if isinstance(node, Op):
        if node.kind == "and":
            return all(evaluate(part, attrs) for part in node.parts)
        return any(evaluate(part, attrs) for part in node.parts)
    targets = _targets(attrs, node)
    if node.op is None:
        return bool(targets)
    return any(_matches_one(target, node) for target in targets)


def attributes_named(node: Node) -> set[str]:
    """The expanded attribute names a query reads (a subscription's q is checked against changes of these)."""
    if isinstance(node, Op):
        return set().union(*(attributes_named(part) for part in node.parts))
    return {node.path[0]}


# Entity type expressions (clause 4.17): type names joined by "," or "|" (or), ";" (and), with parentheses.
TypeNode = str | tuple[str, tuple["TypeNode", ...]]


def parse_types(text: str, expand: Callable[[str], str]) -> TypeNode:
    """The tree of an entity type selection such as `Building,Room` or `(Vehicle;Electric)|Bicycle`."""
    position = 0

    def fail(message: str) -> BadRequestData:
        return BadRequestData(f"invalid type selection at character {position + 1} of '{text}': {message}")

    def disjunction() -> TypeNode:
        nonlocal position
        parts = [conjunction()]
        while position < len(text) and text[position] in ",|":
            position += 1
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def conjunction() -> TypeNode:
        nonlocal position
        parts = [primary()]
        while position < len(text) and text[position] == ";":
            position += 1
            parts.append(primary())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def primary() -> TypeNode:
        nonlocal position
        if position < len(text) and text[position] == "(":
            position += 1
            node = disjunction()
            if position >= len(text) or text[position] != ")":
                raise fail("a '(' is not closed")
            position += 1
            return node
        match = re.compile(r"[^,|;()\s]+").match(text, position)
        if match is None:
            raise fail("a type name is expected")
        position = match.end()
        return expand(match.group(0))

    node = disjunction()
    if position != len(text):
        raise fail(f"unexpected '{text[position]}'")
    return node


def type_matches(node: TypeNode, types: list[str]) -> bool:
    if isinstance(node, str):
        return node in types
    kind, parts = node
    if kind == "and":
        return all(type_matches(part, types) for part in parts)
    return any(type_matches(part, types) for part in parts)


def plain_types(node: TypeNode) -> list[str] | None:
    """The type names of a selection that is a plain "or" of names (served by the type index), else None."""
    if isinstance(node, str):
        return [node]
    kind, parts = node
    if kind == "or" and all(isinstance(part, str) for part in parts):
        return [part for part in parts if isinstance(part, str)]
    return None
