"""Reading the catalogue's console forms into API schemas (the field table is a list of row inputs)."""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData

ROW_INPUT = re.compile(r"^fields-(\d+)-(name|title|type|required|sensitive|key|description)$")
FLAGS = ("required", "sensitive", "key")


def field_rows(form: FormData) -> list[dict[str, Any]]:
    """The field table's rows in order; blank rows (no name and no title) are dropped."""
    rows: dict[int, dict[str, Any]] = {}
    for key, value in form.multi_items():
        match = ROW_INPUT.match(key)
        if match and isinstance(value, str):
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value
    result = []
    for _, row in sorted(rows.items()):
        if not row.get("name", "").strip() and not row.get("title", "").strip():
            continue
        for flag in FLAGS:
            row[flag] = row.get(flag) == "on"
        result.append(row)
    return result


def entry_payload(form: FormData, *, with_code: bool) -> dict[str, Any]:
    """The entry form as a dict ready for EntryCreate / EntryUpdate validation."""
    keys = [
        "name",
        "department",
        "description",
        "sharing_type",
        "sharing_condition",
        "open_type",
        "open_condition",
        "update_cycle",
        "format",
    ]
    if with_code:
        keys.insert(0, "code")
    else:
        keys.append("change_note")
    payload: dict[str, Any] = {k: v for k in keys if isinstance(v := form.get(k), str)}
    tags = form.get("tags")
    payload["tags"] = [t for t in re.split(r"[,，;；\s]+", tags) if t] if isinstance(tags, str) else []
    payload["fields"] = field_rows(form)
    return payload
