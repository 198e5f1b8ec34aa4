"""Builders of the catalogue seed: one entry dict, and the fields (数据项) that recur across entries.

Every builder returns a fresh plain dict, so entries never share mutable state. A key field is always required.
"""

from __future__ import annotations

from typing import Any

Field = dict[str, Any]
Entry = dict[str, Any]

CITY = "330281"


def entry(
    code: str,
    name: str,
    department: str,
    description: str,
    *,
    sharing: str,
    update_cycle: str,
    tags: list[str],
    fields: list[Field],
    sharing_condition: str = "",
    open_type: str = "none",
    open_condition: str = "",
    fmt: str = "table",
) -> Entry:
    """One catalogue entry; `code` is the department code and its 5-digit sequence, e.g. "GAJ-00001"."""
    return {
        "code": f"{CITY}-{code}",
        "name": name,
        "department": department,
        "description": description,
        "sharing_type": sharing,
        "sharing_condition": sharing_condition,
        "open_type": open_type,
        "open_condition": open_condition,
        "update_cycle": update_cycle,
        "format": fmt,
        "tags": tags,
        "fields": fields,
    }


def field(
    name: str,
    title: str,
    type: str = "string",
    *,
    required: bool = False,
    sensitive: bool = False,
    key: bool = False,
    description: str = "",
) -> Field:
    return {
        "name": name,
        "title": title,
        "type": type,
        "required": required or key,
        "sensitive": sensitive,
        "key": key,
        "description": description,
    }


# --- natural persons -------------------------------------------------------------------------------------------


def resident_id(
    name: str = "resident_id", title: str = "公民身份号码", *, key: bool = False, required: bool = True
) -> Field:
    return field(name, title, required=required, sensitive=True, key=key, description="GB 11643 18位公民身份号码")


def person_name(name: str = "full_name", title: str = "姓名", *, required: bool = True) -> Field:
    return field(name, title, required=required, sensitive=True)


def gender(name: str = "gender_code", title: str = "性别") -> Field:
    return field(name, title, required=True, description="GB/T 2261.1 性别代码：1男，2女，0未知，9未说明")


def birth_date(name: str = "birth_date", title: str = "出生日期") -> Field:
    return field(name, title, "date", required=True, sensitive=True, description="YYYY-MM-DD")


def ethnicity() -> Field:
    return field("ethnicity_code", "民族", description="GB/T 3304 民族代码，两位数字")


def phone(name: str = "phone", title: str = "联系电话", *, sensitive: bool = True, required: bool = False) -> Field:
    return field(
        name,
        title,
        required=required,
        sensitive=sensitive,
        description="11位手机号码或带区号的固定电话，如0574-62xxxxxx",
    )


def home_address(name: str = "home_address", title: str = "居住地址") -> Field:
    return field(name, title, sensitive=True, description="省市县乡村及门牌号的完整地址")


def person(*, key: bool = True, with_gender: bool = True) -> list[Field]:
    """公民身份号码 + 姓名 (+ 性别): the usual way a record names a natural person."""
    fields = [resident_id(key=key), person_name()]
    if with_gender:
        fields.append(gender())
    return fields


# --- legal persons and organisations --------------------------------------------------------------------------


def credit_code(
    name: str = "credit_code", title: str = "统一社会信用代码", *, key: bool = False, required: bool = True
) -> Field:
    return field(name, title, required=required, key=key, description="GB 32100 18位法人和其他组织统一社会信用代码")


def org_name(name: str = "org_name", title: str = "单位名称") -> Field:
    return field(name, title, required=True)


def legal_rep(name: str = "legal_rep", title: str = "法定代表人") -> Field:
    return field(name, title, sensitive=True)


def org(*, key: bool = True, name_title: str = "单位名称") -> list[Field]:
    """统一社会信用代码 + 名称: the usual way a record names a legal person."""
    return [credit_code(key=key), org_name(title=name_title)]


def industry_code(name: str = "industry_code", title: str = "行业代码") -> Field:
    return field(name, title, description="GB/T 4754-2017 国民经济行业分类，门类字母加4位数字，如C3851")


# --- places ----------------------------------------------------------------------------------------------------


def division_code(name: str = "division_code", title: str = "行政区划代码") -> Field:
    return field(name, title, description="GB/T 2260 行政区划代码，6位，余姚市为330281")


def town_code(
    name: str = "town_code", title: str = "所属乡镇（街道）", *, required: bool = False, key: bool = False
) -> Field:
    return field(name, title, required=required, key=key, description="统计用区划代码前9位，如330281004（阳明街道）")


def village_code(name: str = "village_code", title: str = "所属村（社区）", *, key: bool = False) -> Field:
    return field(name, title, key=key, description="12位统计用区划代码，前9位为乡镇（街道）代码")


def address(name: str = "address", title: str = "地址", *, required: bool = False) -> Field:
    return field(name, title, required=required)


def lon(name: str = "longitude", title: str = "经度") -> Field:
    return field(name, title, "decimal", description="WGS84 经度，十进制度，保留6位小数")


def lat(name: str = "latitude", title: str = "纬度") -> Field:
    return field(name, title, "decimal", description="WGS84 纬度，十进制度，保留6位小数")


def location() -> list[Field]:
    return [lon(), lat()]


# --- values ----------------------------------------------------------------------------------------------------


def amount(name: str, title: str, *, required: bool = False, sensitive: bool = False, unit: str = "元") -> Field:
    return field(
        name, title, "decimal", required=required, sensitive=sensitive, description=f"单位：{unit}，保留2位小数"
    )


def quantity(name: str, title: str, unit: str, *, required: bool = False, type: str = "integer") -> Field:
    return field(name, title, type, required=required, description=f"单位：{unit}")


def date(name: str, title: str, *, required: bool = False, key: bool = False, sensitive: bool = False) -> Field:
    return field(name, title, "date", required=required, key=key, sensitive=sensitive, description="YYYY-MM-DD")


def timestamp(name: str, title: str, *, required: bool = False, key: bool = False) -> Field:
    return field(name, title, "datetime", required=required, key=key, description="YYYY-MM-DD HH:MM:SS，北京时间")


def flag(name: str, title: str, *, required: bool = False, sensitive: bool = False) -> Field:
    return field(name, title, "boolean", required=required, sensitive=sensitive)


def record_no(name: str, title: str, description: str = "") -> Field:
    """The business number that identifies a record (证号、案号、编号)."""
    return field(name, title, key=True, description=description)


def code_of(
    name: str, title: str, description: str, *, required: bool = False, sensitive: bool = False, key: bool = False
) -> Field:
    """A coded value; `description` names the code list."""
    return field(name, title, required=required, sensitive=sensitive, key=key, description=description)


def text(
    name: str,
    title: str,
    *,
    required: bool = False,
    sensitive: bool = False,
    key: bool = False,
    description: str = "",
) -> Field:
    return field(name, title, required=required, sensitive=sensitive, key=key, description=description)


def valid_period() -> list[Field]:
    return [date("valid_from", "有效期起始日期"), date("valid_to", "有效期截止日期")]


def issuer(title: str = "发证机关") -> Field:
    return field("issuing_authority", title)
