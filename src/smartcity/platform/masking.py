"""Masking of personal fields (脱敏) for people who may see a record but not these fields in full.

Plain string functions; each takes `str | None`, returns None for None and "" for "". The kept parts follow common
practice in Chinese government systems: the region of a resident ID and its last four characters, a name's first
and last character, a phone's network prefix and last four digits, an address down to its town.
"""

from __future__ import annotations

import re

STAR = "*"
_MOBILE = re.compile(r"^(\+?86[- ]?)?(1\d{2})(\d{4})(\d{4})$")
_FIXED_LINE = re.compile(r"^(0\d{2,3})([- ]?)(\d{5,8})((?:-\d{1,6})?)$")
_TOWN_UNIT = re.compile(r"街道|镇|乡")
_HIGHER_UNIT_END = "省市区县"
_COUNTY_NAME = re.compile(r"^[\u4e00-\u9fff]{1,2}(?:市(?![场民政])|区|县)")
_ROAD_OR_VILLAGE = re.compile(r"^[东西南北中]?(?:路|街|大道|巷|村)")
_NOT_A_REGION = ("小区", "园区", "社区", "景区", "开发区", "工业区")
_REGION_LEVELS = (
    re.compile(r"[\u4e00-\u9fff]{2,8}?(?:省|自治区)"),
    re.compile(r"[\u4e00-\u9fff]{2,8}?(?:市|自治州|地区|盟)(?![场民政])"),
    re.compile(r"[\u4e00-\u9fff]{1,8}?(?:市|县|区|旗)(?![场民政])"),
)


def _keep(text: str, front: int, back: int) -> str:
    """`text` with all but `front` leading and `back` trailing characters starred."""
    hidden = len(text) - front - back
    return text[:front] + STAR * hidden + (text[len(text) - back :] if back else "")


def mask_resident_id(value: str | None) -> str | None:
    """A resident ID with its birth date and sequence hidden: 330281198001011234 → 330281********1234."""
    if value is None:
        return None
    value = value.strip()
    if len(value) == 18:
        return _keep(value, 6, 4)
    # Other lengths (15-digit IDs, typing errors): at most 3 in front and 2 behind, never more than half shown.
    front = min(3, len(value) // 4)
    back = min(2, len(value) // 4)
    return _keep(value, front, back)


def mask_name(value: str | None) -> str | None:
    """A person's name with its middle starred: 张三 → 张*, 张小三 → 张*三, 欧阳小明 → 欧**明, John → J***."""
    if value is None:
        return None
    value = value.strip()
    if len(value) <= 1:
        return STAR * len(value)
    if value[0].isascii():
        return _keep(value, 1, 0)
    if len(value) == 2:
        return _keep(value, 1, 0)
    return _keep(value, 1, 1)


def mask_phone(value: str | None) -> str | None:
    """A phone number with its middle hidden: 13812345678 → 138****5678, 0574-62345678 → 0574-****5678."""
    if value is None:
        return None
    value = value.strip()
    if m := _MOBILE.match(value):
        return f"{m[1] or ''}{m[2]}{STAR * 4}{m[4]}"
    if m := _FIXED_LINE.match(value):
        return f"{m[1]}{m[2]}{_keep(m[3], 0, 4)}{m[4]}"
    # Anything else: the last digits only, never more than half of the value.
    return _keep(value, 0, min(4, len(value) // 2))


def _town_end(address: str) -> int | None:
    """Where the first town-level unit (街道/镇/乡) of an address ends, or None when it names none."""
    for m in _TOWN_UNIT.finditer(address):
        before, after = address[: m.start()], address[m.end() :]
        if not before:
            continue
        county = _COUNTY_NAME.match(after)
        if before[-1] in _HIGHER_UNIT_END and county and not county[0].endswith(_NOT_A_REGION):
            continue  # 宁波市镇海区, 江苏省镇江市: the character begins a county's name (but 余姚市三七市镇 is a town)
        if _ROAD_OR_VILLAGE.match(after):
            continue  # 城乡路, 新镇村: part of a road's or village's name
        return m.end()
    return None


def _region_end(address: str) -> int:
    """Where the leading province, city and county-level units of an address end (0 when it starts with none)."""
    end = 0
    for level in _REGION_LEVELS:
        m = level.match(address, end)
        if m and not m[0].endswith(_NOT_A_REGION):
            end = m.end()
    return end


def mask_address(value: str | None) -> str | None:
    """An address cut after its town (乡镇街道), else after its county-level unit, the rest replaced by ****."""
    if value is None:
        return None
    value = value.strip()
    end = _town_end(value)
    if end is None:
        end = _region_end(value)
    if end == len(value):
        return value
    return value[:end] + STAR * 4
