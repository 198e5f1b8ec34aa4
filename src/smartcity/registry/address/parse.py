"""Parsing and standardising Chinese addresses (地名地址) as they are written in 余姚市 (Yuyao) records.

An address is read from the front, one level at a time, by a short ordered list of small regular expressions:
postcode and parenthesised notes are set aside, then province, prefecture city, county-level district, town
(乡镇街道), village or community (村/社区), road, and finally the door number, building, unit and room. Whatever
is left goes to `rest`. Yuyao's 21 town-level units are known by their full, official and short names (梨洲街道,
梨洲街道办事处, 梨洲); other towns are recognised by their suffix (街道/镇/乡).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from smartcity.demo.departments import TOWNS

PROVINCE = "浙江省"
CITY = "宁波市"
DISTRICT = "余姚市"

_CJK = "\u4e00-\u9fff"
_ROAD_SUFFIX = "大道|大街|公路|路|街|巷|弄|线"
_TOWN_SUFFIX = "街道办事处|街道|镇人民政府|镇|乡人民政府|乡"
# A place name followed by one of these is a road or village named after the place, not the place itself
# (凤山路 is a road, not 凤山街道; 兰江路 is not 兰江街道).
_NAMES_A_ROAD = rf"[东西南北中]?(?:{_ROAD_SUFFIX})|村|社区|居委会"
_CHINESE_DIGITS = {**{c: i for i, c in enumerate("零一二三四五六七八九")}, "〇": 0, "两": 2}
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL = "".join(_CHINESE_DIGITS) + "".join(_CHINESE_UNITS)


def _town_names() -> tuple[dict[str, str], dict[str, str]]:
    """Yuyao's town-level units by every full name people write, and by the bare name without the suffix."""
    full: dict[str, str] = {}
    stems: dict[str, str] = {}
    for town in TOWNS:
        short = town.short_name
        kind = next(k for k in ("街道", "镇", "乡") if short.endswith(k))
        full[short] = short
        full[town.name.removeprefix(DISTRICT)] = short
        stems[short.removesuffix(kind)] = short
    return full, stems


YUYAO_TOWNS, _TOWN_STEMS = _town_names()
YUYAO_TOWN_NAMES = frozenset(YUYAO_TOWNS.values())
# A town's standard name -> its 9-digit division code (梨洲街道 -> 330281001).
YUYAO_TOWN_CODES = {t.short_name: t.division_code for t in TOWNS if t.division_code}


def _alternatives(names: list[str] | dict[str, str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


# Step 0: noise.
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"[—–‐−~～]")
_SEPARATORS = re.compile(r"[,;:、。·\"'“”‘’]")
_POSTCODE = re.compile(r"^(?:邮编|邮政编码)?\d{6}(?![\d号弄幢栋单室房楼座-])")
_NOTE = re.compile(r"[(\[【]([^()\[\]【】]*)[)\]】]")
_HASH_NUMBER = re.compile(r"(\d+)#")
# Step 1-3: province, prefecture city, county-level district.
_PROVINCE = re.compile(
    rf"^(?:(浙江)省?|((?:北京|天津|上海|重庆))市?|((?:内蒙古|广西|西藏|宁夏|新疆)[{_CJK}]{{0,8}}?自治区)|([{_CJK}]{{2,3}}省))"
)
_CITY = re.compile(rf"^(?:(宁波)市?|([{_CJK}]{{2,4}}?(?:市|自治州|地区|盟))(?![场民政]))")
_DISTRICT = re.compile(rf"^(?:(余姚)市?|([{_CJK}]{{1,5}}?(?:市|区|县|旗))(?![场民政]))")
_NOT_A_DISTRICT = ("小区", "园区", "社区", "景区", "开发区", "工业区", "城区")
_YUYAO_START = re.compile(rf"^(?:余姚|{_alternatives(YUYAO_TOWNS)}|{_alternatives(_TOWN_STEMS)})")
# Step 4: town.
_KNOWN_TOWN = re.compile(rf"^(?:{_alternatives(YUYAO_TOWNS)})")
_TOWN_STEM = re.compile(rf"^({_alternatives(_TOWN_STEMS)})(?:{_TOWN_SUFFIX}|办事处|人民政府)?(?!{_NAMES_A_ROAD})")
_TOWN = re.compile(rf"^([{_CJK}]{{1,8}}?)(街道|镇|乡)(?:办事处|人民政府)?(?!{_NAMES_A_ROAD})")
# Step 5: village or community.
_VILLAGE = re.compile(
    rf"^(?!村|社区|居)([{_CJK}]{{1,10}}?(?:村民委员会|村委会|村|社区居民委员会|社区居委会|社区|居民委员会|居委会))"
    rf"(?![东西南北中]?(?:{_ROAD_SUFFIX}))"
)
# Step 6: road (a road's direction, 新建北路, stays part of its name); then an estate name, kept in `rest`.
_ROAD = re.compile(
    rf"^(?![\d{_NUMERAL}]+[弄号])([{_CJK}A-Za-z0-9]{{0,12}}?[{_CJK}A-Za-z](?:{_ROAD_SUFFIX}))(?![路街道巷])"
)
_ESTATE = re.compile(rf"^([{_CJK}A-Za-z]{{1,12}}?(?:小区|花园|公寓|大厦|家园|广场|苑))")
# Step 7: door number (with a lane, 12弄3号), building, unit, room.
_CHINESE_NUMBER = re.compile(rf"第?([{_NUMERAL}]+)(?=[号弄幢栋单室房楼座])")
_ORDINAL = re.compile(r"第(?=\d)")
_LANE = re.compile(r"^(\d+)弄")
_NUMBER = re.compile(r"^(\d+(?:-\d+)?)(?:号(?!楼)|$)")
_BUILDING = re.compile(r"^([0-9A-Za-z]+)(?:号楼|幢|栋|座)")
_UNIT = re.compile(r"^(\d+)单元")
_ROOM = re.compile(r"^(\d+)(?:室|房)")
_BARE_ROOM = re.compile(r"^(\d+)$")


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """An address split into its levels; None where the text does not give the level."""

    province: str | None = None
    city: str | None = None
    district: str | None = None
    town: str | None = None
    village: str | None = None
    road: str | None = None
    number: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    rest: str | None = None

    def in_yuyao(self) -> bool:
        """Whether the address is evidently in Yuyao: it names 余姚 or one of its towns, and nothing else."""
        if self.province not in (None, PROVINCE) or self.city not in (None, CITY):
            return False
        if self.district is not None:
            return self.district == DISTRICT
        return self.town in YUYAO_TOWN_NAMES

    def standard(self) -> str:
        """The canonical text: full province, city and district for Yuyao, then town, village, road, door, room."""
        if self.in_yuyao():
            parts = [PROVINCE, CITY, DISTRICT]
        else:
            parts = [self.province or "", self.city or "", self.district or ""]
        parts += [self.town or "", standard_village(self.village) if self.village else "", self.road or ""]
        if self.number:
            parts.append(self.number if self.number.endswith("弄") else f"{self.number}号")
        if self.building:
            parts.append(f"{self.building}幢")
        if self.unit:
            parts.append(f"{self.unit}单元")
        if self.room:
            parts.append(f"{self.room}室")
        return "".join(parts)

    def key(self) -> str:
        """A compact matching key, town|village|road|number, with empty parts kept."""
        village = standard_village(self.village) if self.village else ""
        return "|".join((self.town or "", village, self.road or "", self.number or ""))


def standard_village(name: str) -> str:
    """A village or community name without its committee suffix: 塘头村委会 → 塘头村, 新街居委会 → 新街社区."""
    for suffix, standard in (
        ("村民委员会", "村"),
        ("村委会", "村"),
        ("社区居民委员会", "社区"),
        ("社区居委会", "社区"),
        ("居民委员会", "社区"),
        ("居委会", "社区"),
    ):
        if name.endswith(suffix):
            return name.removesuffix(suffix) + standard
    return name


def standard_town(name: str) -> str:
    """A town-level unit's standard name: 梨洲, 梨洲街道办事处 → 梨洲街道; other towns lose 办事处/人民政府."""
    if name in YUYAO_TOWNS:
        return YUYAO_TOWNS[name]
    if name in _TOWN_STEMS:
        return _TOWN_STEMS[name]
    return name.removesuffix("办事处").removesuffix("人民政府")


def chinese_number(numeral: str) -> int:
    """The value of a Chinese numeral, written with units (一百零五) or digit by digit (一零五)."""
    if not any(c in _CHINESE_UNITS for c in numeral):
        return int("".join(str(_CHINESE_DIGITS[c]) for c in numeral))
    total = digit = 0
    for c in numeral:
        if c in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[c]
        else:
            total += (digit or 1) * _CHINESE_UNITS[c]
            digit = 0
    return total + digit


def normalise(text: str) -> str:
    """Half-width characters (NFKC), no spaces or list punctuation, one kind of dash."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPACES.sub("", text)
    text = _DASHES.sub("-", text)
    return _SEPARATORS.sub("", text)


def _plain_number(number: str) -> str:
    """A door number without leading zeros: 012 → 12, 12-03 → 12-3."""
    return "-".join(str(int(part)) for part in number.split("-"))


def parse_address(text: str) -> ParsedAddress:
    """Split an address into province, city, district, town, village, road, number, building, unit and room."""
    text = normalise(text)
    text = _POSTCODE.sub("", text)
    notes = _NOTE.findall(text)
    text = _NOTE.sub("", text)
    text = _HASH_NUMBER.sub(r"\1号", text)
    found: dict[str, str] = {}

    if m := _PROVINCE.match(text):
        found["province"] = f"{m[1]}省" if m[1] else f"{m[2]}市" if m[2] else m[3] or m[4]
        text = text[m.end() :]
    if (m := _CITY.match(text)) and (m[1] or not _YUYAO_START.match(text)):
        found["city"] = CITY if m[1] else m[2]
        text = text[m.end() :]
    m = _DISTRICT.match(text)
    if m and (m[1] or ("city" in found and not _YUYAO_START.match(text) and not m[2].endswith(_NOT_A_DISTRICT))):
        found["district"] = DISTRICT if m[1] else m[2]
        text = text[m.end() :]

    if m := _KNOWN_TOWN.match(text):
        found["town"] = YUYAO_TOWNS[m[0]]
        text = text[m.end() :]
    elif m := _TOWN_STEM.match(text):
        found["town"] = _TOWN_STEMS[m[1]]
        text = text[m.end() :]
    elif m := _TOWN.match(text):
        found["town"] = m[1] + m[2]
        text = text[m.end() :]

    if m := _VILLAGE.match(text):
        found["village"] = m[1]
        text = text[m.end() :]
    if m := _ROAD.match(text):
        found["road"] = m[1]
        text = text[m.end() :]
    estate = ""
    if m := _ESTATE.match(text):
        estate = m[1]
        text = text[m.end() :]

    text = _CHINESE_NUMBER.sub(lambda n: str(chinese_number(n[1])), text)
    text = _ORDINAL.sub("", text)
    lane = ""
    if m := _LANE.match(text):
        lane = f"{int(m[1])}弄"
        text = text[m.end() :]
    if m := _NUMBER.match(text):
        found["number"] = lane + _plain_number(m[1])
        text = text[m.end() :]
    elif lane:
        found["number"] = lane
    if m := _BUILDING.match(text):
        found["building"] = m[1].lstrip("0") or "0"
        text = text[m.end() :]
    if m := _UNIT.match(text):
        found["unit"] = str(int(m[1]))
        text = text[m.end() :]
    if (m := _ROOM.match(text)) or (("building" in found or "unit" in found) and (m := _BARE_ROOM.match(text))):
        found["room"] = str(int(m[1]))
        text = text[m.end() :]

    rest = " ".join(part for part in (estate, text, *notes) if part)
    return ParsedAddress(**found, rest=rest or None)
