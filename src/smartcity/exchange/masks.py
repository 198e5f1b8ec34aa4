"""Which fields of an entry are personal and how each is masked when shared (脱敏).

A field the catalogue marks `sensitive` is personal. How it is masked follows what it holds, read from its name,
title and description: a resident ID keeps its region and last four characters, a name its first and last
character, a phone its network prefix and last four digits, an address everything up to its town. Any other
sensitive value (a diagnosis, an income) is withheld whole. Fields not marked sensitive are shared as they are.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from typing import Any

from smartcity.catalog.schemas import FieldSpec
from smartcity.platform import masking

WITHHELD = "******"


class Mask(enum.StrEnum):
    RESIDENT_ID = "resident_id"
    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    WITHHOLD = "withhold"


_ID = re.compile(r"(resident_id|id_number|id_no|idcard)$|身份号码|身份证|证件号", re.IGNORECASE)
_NAME = re.compile(r"(^|_)(full_name|person_name|legal_rep|contact_name|patient_name)$|姓名|法定代表人|联系人$")
_PHONE = re.compile(r"phone|mobile|tel$|电话|手机", re.IGNORECASE)
_ADDRESS = re.compile(r"address|地址|住址", re.IGNORECASE)


def mask_of(spec: FieldSpec) -> Mask | None:
    """How `spec` is masked when shared without plain access (None: it is not personal)."""
    if not spec.sensitive:
        return None
    text = f"{spec.name} {spec.title} {spec.description}"
    if _ID.search(text) or "GB 11643" in spec.description:
        return Mask.RESIDENT_ID
    if _NAME.search(spec.name) or _NAME.search(spec.title):
        return Mask.NAME
    if _PHONE.search(spec.name) or _PHONE.search(spec.title):
        return Mask.PHONE
    if _ADDRESS.search(spec.name) or _ADDRESS.search(spec.title):
        return Mask.ADDRESS
    return Mask.WITHHOLD


def _withhold(value: str | None) -> str | None:
    return None if value is None else WITHHELD


MASKERS: dict[Mask, Callable[[str | None], str | None]] = {
    Mask.RESIDENT_ID: masking.mask_resident_id,
    Mask.NAME: masking.mask_name,
    Mask.PHONE: masking.mask_phone,
    Mask.ADDRESS: masking.mask_address,
    Mask.WITHHOLD: _withhold,
}


def maskers(fields: Sequence[FieldSpec], names: Sequence[str]) -> dict[str, Callable[[str | None], str | None]]:
    """For the fields `names` of an entry: the masker of each personal one."""
    specs = {f.name: f for f in fields}
    out = {}
    for name in names:
        mask = mask_of(specs[name])
        if mask is not None:
            out[name] = MASKERS[mask]
    return out


def apply(row: dict[str, Any], masks: dict[str, Callable[[str | None], str | None]]) -> dict[str, Any]:
    """`row` with its personal values masked (values that are not text are masked as their text)."""
    for name, masker in masks.items():
        value = row.get(name)
        if value is not None:
            row[name] = masker(str(value))
    return row
