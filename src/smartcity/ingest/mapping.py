"""Column mapping: which header of a department's file holds which field of the entry.

A saved mapping (per department, entry and version) is applied first; headers it does not know are matched to
fields by name or Chinese title, ignoring case, width (full-width letters), spaces and brackets. What still
matches nothing is reported so that a person maps it (or marks it ignored) before the batch runs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from smartcity.catalog.schemas import FieldSpec

# Columns the platform itself adds to files it hands back (the rejected-rows download); ignored on re-upload.
PROBLEMS_COLUMN = "问题说明"
ROW_COLUMN = "原行号"
# The feedback item a row of the download answers: a corrected row closes its item even if its key was the error.
FEEDBACK_COLUMN = "反馈编号"
OWN_COLUMNS = frozenset({PROBLEMS_COLUMN, ROW_COLUMN, FEEDBACK_COLUMN})


def normalise(header: str) -> str:
    """A header for matching: NFKC, lower case, without spaces, brackets, underscores and hyphens."""
    text = unicodedata.normalize("NFKC", header).lower()
    return re.sub(r"[\s_\-()（）\[\]【】:：]", "", text)


@dataclass
class MappingResult:
    """header → field name (None: ignored), the headers still unmapped, and required fields with no column."""

    columns: dict[str, str | None] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
    duplicates: dict[str, list[str]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unmapped and not self.missing_required and not self.duplicates


def suggest(
    headers: Sequence[str], schema: Sequence[FieldSpec], saved: Mapping[str, str | None] | None = None
) -> MappingResult:
    """Map `headers` to `schema`'s fields: the saved mapping first, then names and titles."""
    by_key: dict[str, str] = {}
    for spec in schema:
        by_key.setdefault(normalise(spec.name), spec.name)
        by_key.setdefault(normalise(spec.title), spec.name)
    names = {spec.name for spec in schema}
    result = MappingResult()
    for header in headers:
        if saved is not None and header in saved and (saved[header] is None or saved[header] in names):
            result.columns[header] = saved[header]
        elif header in OWN_COLUMNS:
            result.columns[header] = None
        elif (found := by_key.get(normalise(header))) is not None:
            result.columns[header] = found
        else:
            result.unmapped.append(header)
    return check(result, schema)


def check(result: MappingResult, schema: Sequence[FieldSpec]) -> MappingResult:
    """Fill in the required fields no column holds, and fields that two columns claim."""
    claimed: dict[str, list[str]] = {}
    for header, name in result.columns.items():
        if name is not None:
            claimed.setdefault(name, []).append(header)
    result.duplicates = {name: headers for name, headers in claimed.items() if len(headers) > 1}
    result.missing_required = [spec.name for spec in schema if spec.required and spec.name not in claimed]
    return result


def apply(headers: Sequence[str], chosen: Mapping[str, str | None], schema: Sequence[FieldSpec]) -> MappingResult:
    """A mapping chosen by a person (every header must appear, mapped to a field or to None)."""
    names = {spec.name for spec in schema}
    result = MappingResult()
    for header in headers:
        if header not in chosen:
            result.unmapped.append(header)
            continue
        target = chosen[header]
        if target is not None and target not in names:
            result.unmapped.append(header)
            continue
        result.columns[header] = target
    return check(result, schema)
