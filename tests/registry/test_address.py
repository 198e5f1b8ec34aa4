"""Address parsing, the standard address registry and matching (基础库 地名地址), on Yuyao's towns and roads."""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcity.demo import addresses as gazetteer
from smartcity.demo.departments import TOWNS
from smartcity.demo.records import ROADS, TOWN_NAMES, VILLAGES, addresses
from smartcity.registry.address.match import NO_MATCH, AddressIndex
from smartcity.registry.address.parse import chinese_number, parse_address

YUYAO = {"province": "浙江省", "city": "宁波市", "district": "余姚市"}

# (text as people write it, the parts it must give; parts not named must be None)
CASES: list[tuple[str, dict[str, str]]] = [
    (
        "浙江省宁波市余姚市梨洲街道新建北路12号3幢501室",
        {**YUYAO, "town": "梨洲街道", "road": "新建北路", "number": "12", "building": "3", "room": "501"},
    ),
    ("浙江宁波余姚阳明街道阳明西路8号", {**YUYAO, "town": "阳明街道", "road": "阳明西路", "number": "8"}),
    (
        "宁波市余姚市凤山街道凤山路12号",
        {"city": "宁波市", "district": "余姚市", "town": "凤山街道", "road": "凤山路", "number": "12"},
    ),
    ("余姚市兰江街道兰江路3号", {"district": "余姚市", "town": "兰江街道", "road": "兰江路", "number": "3"}),
    ("余姚市三七市镇五星村十二号", {"district": "余姚市", "town": "三七市镇", "village": "五星村", "number": "12"}),
    (
        "宁波市余姚市三七市镇开元路7号",
        {"city": "宁波市", "district": "余姚市", "town": "三七市镇", "road": "开元路", "number": "7"},
    ),
    ("余姚三七市镇", {"district": "余姚市", "town": "三七市镇"}),
    ("三七市镇团结村", {"town": "三七市镇", "village": "团结村"}),
    ("四明山镇四明西路１２号", {"town": "四明山镇", "road": "四明西路", "number": "12"}),
    (
        "浙江省余姚市四明山镇北山村",
        {"province": "浙江省", "district": "余姚市", "town": "四明山镇", "village": "北山村"},
    ),
    ("余姚市阳明西路一百零五号", {"district": "余姚市", "road": "阳明西路", "number": "105"}),
    ("梨洲街道新建北路二十号", {"town": "梨洲街道", "road": "新建北路", "number": "20"}),
    ("泗门镇谭家岭东路一零五号", {"town": "泗门镇", "road": "谭家岭东路", "number": "105"}),
    (
        "阳明街道胜山路１０５号２幢３０１室",
        {"town": "阳明街道", "road": "胜山路", "number": "105", "building": "2", "room": "301"},
    ),
    ("梨洲 街道  新建北路 12 号", {"town": "梨洲街道", "road": "新建北路", "number": "12"}),
    ("新建北路12号", {"road": "新建北路", "number": "12"}),
    ("梨洲街道新建北路12弄3号", {"town": "梨洲街道", "road": "新建北路", "number": "12弄3"}),
    ("凤山街道石板弄5号", {"town": "凤山街道", "road": "石板弄", "number": "5"}),
    ("315400浙江省宁波市余姚市梨洲街道新建北路12号", {**YUYAO, "town": "梨洲街道", "road": "新建北路", "number": "12"}),
    (
        "邮编：315400 余姚市阳明街道长安路6号",
        {"district": "余姚市", "town": "阳明街道", "road": "长安路", "number": "6"},
    ),
    ("兰江街道塘头居委会", {"town": "兰江街道", "village": "塘头居委会"}),
    ("泗门镇塘头村委会3组", {"town": "泗门镇", "village": "塘头村委会", "rest": "3组"}),
    ("梨洲街道办事处新建北路12号", {"town": "梨洲街道", "road": "新建北路", "number": "12"}),
    ("余姚市临山镇人民政府", {"district": "余姚市", "town": "临山镇"}),
    ("梨洲新建北路12号", {"town": "梨洲街道", "road": "新建北路", "number": "12"}),
    ("凤山路12号", {"road": "凤山路", "number": "12"}),
    ("黄家埠镇横塘村25号", {"town": "黄家埠镇", "village": "横塘村", "number": "25"}),
    ("小曹娥镇海南村", {"town": "小曹娥镇", "village": "海南村"}),
    ("鹿亭乡鹿鸣村8号", {"town": "鹿亭乡", "village": "鹿鸣村", "number": "8"}),
    ("余姚市梨洲街道新建北路12-3号", {"district": "余姚市", "town": "梨洲街道", "road": "新建北路", "number": "12-3"}),
    ("余姚市梨洲街道新建北路12号楼", {"district": "余姚市", "town": "梨洲街道", "road": "新建北路", "building": "12"}),
    (
        "梨洲街道新建北路12号3栋2单元501房",
        {"town": "梨洲街道", "road": "新建北路", "number": "12", "building": "3", "unit": "2", "room": "501"},
    ),
    (
        "梨洲街道新建北路12号3号楼501室",
        {"town": "梨洲街道", "road": "新建北路", "number": "12", "building": "3", "room": "501"},
    ),
    (
        "阳明街道新建北路十二号三幢二单元五零一室",
        {"town": "阳明街道", "road": "新建北路", "number": "12", "building": "3", "unit": "2", "room": "501"},
    ),
    (
        "余姚市阳明街道舜水南路8号（近阳明公园）",
        {"district": "余姚市", "town": "阳明街道", "road": "舜水南路", "number": "8", "rest": "近阳明公园"},
    ),
    (
        "梨洲街道阳光小区3幢2单元501",
        {"town": "梨洲街道", "building": "3", "unit": "2", "room": "501", "rest": "阳光小区"},
    ),
    ("马渚镇姚北大道88号", {"town": "马渚镇", "road": "姚北大道", "number": "88"}),
    ("宁波市海曙区中山西路2号", {"city": "宁波市", "district": "海曙区", "road": "中山西路", "number": "2"}),
    ("杭州市西湖区文三路90号", {"city": "杭州市", "district": "西湖区", "road": "文三路", "number": "90"}),
    ("慈溪市坎墩街道兴业路5号", {"city": "慈溪市", "town": "坎墩街道", "road": "兴业路", "number": "5"}),
    ("余姚市大岚镇", {"district": "余姚市", "town": "大岚镇"}),
    ("余姚市丈亭镇城东路12#", {"district": "余姚市", "town": "丈亭镇", "road": "城东路", "number": "12"}),
]
FIELDS = ("province", "city", "district", "town", "village", "road", "number", "building", "unit", "room", "rest")


@pytest.mark.parametrize(("text", "parts"), CASES, ids=[text for text, _ in CASES])
def test_parse_gives_each_level(text: str, parts: dict[str, str]) -> None:
    parsed = parse_address(text)
    assert {f: getattr(parsed, f) for f in FIELDS} == {f: parts.get(f) for f in FIELDS}


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("text", "standard"),
    [
        ("余姚三七市镇五星村十二号", "浙江省宁波市余姚市三七市镇五星村12号"),
        ("梨洲新建北路12号3栋501房", "浙江省宁波市余姚市梨洲街道新建北路12号3幢501室"),
        ("兰江街道塘头居委会", "浙江省宁波市余姚市兰江街道塘头社区"),
        ("泗门镇塘头村委会", "浙江省宁波市余姚市泗门镇塘头村"),
        ("新建北路12号", "新建北路12号"),
        ("杭州市西湖区文三路90号", "杭州市西湖区文三路90号"),
        ("梨洲街道新建北路12弄3号", "浙江省宁波市余姚市梨洲街道新建北路12弄3号"),
        ("梨洲街道新建北路12弄", "浙江省宁波市余姚市梨洲街道新建北路12弄"),
    ],
)
def test_standard_text(text: str, standard: str) -> None:
    assert parse_address(text).standard() == standard


def test_key_treats_village_committees_as_the_village() -> None:
    assert parse_address("泗门镇塘头村委会").key() == parse_address("泗门镇塘头村").key() == "泗门镇|塘头村||"
    assert parse_address("兰江街道塘头居委会").key() == parse_address("兰江街道塘头社区").key()
    assert parse_address("梨洲新建北路12号3幢").key() == "梨洲街道||新建北路|12"


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("十", 10), ("十二", 12), ("二十", 20), ("一百零五", 105), ("一零五", 105), ("两千零一", 2001)],
)
def test_chinese_numbers(numeral: str, value: int) -> None:
    assert chinese_number(numeral) == value


@cache
def registry() -> pl.DataFrame:
    return gazetteer.standard_addresses()


@cache
def index() -> AddressIndex:
    return AddressIndex(registry(), villages=gazetteer.villages(), towns=gazetteer.towns())


@settings(max_examples=300, deadline=None)
@given(row=st.integers(min_value=0, max_value=240_000))
def test_standard_form_of_a_registry_address_parses_back_to_the_same_key(row: int) -> None:
    text = registry()["text"][row]
    parsed = parse_address(text)
    assert parsed.standard() == text
    assert parse_address(parsed.standard()).key() == parsed.key()
    town, road, number = registry().select("town", "road", "number").row(row)
    assert parsed.key() == f"{town}||{road}|{number}"


TOWN_WRITINGS = [(t.short_name, w) for t in TOWNS for w in (t.short_name, t.name.removeprefix("余姚市"))]


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(["", "浙江省宁波市余姚市", "浙江宁波余姚", "余姚市", "315400 ", "宁波市余姚市"]),
    town=st.sampled_from(TOWN_WRITINGS),
    road=st.sampled_from(ROADS),
    number=st.integers(min_value=1, max_value=999),
    fullwidth=st.booleans(),
    spaced=st.booleans(),
)
def test_written_variants_standardise_alike(
    prefix: str, town: tuple[str, str], road: str, number: int, fullwidth: bool, spaced: bool
) -> None:
    digits = str(number).translate(str.maketrans("0123456789", "０１２３４５６７８９")) if fullwidth else str(number)
    gap = " " if spaced else ""
    parsed = parse_address(f"{prefix}{town[1]}{gap}{road}{gap}{digits}号")
    assert parsed.key() == f"{town[0]}||{road}|{number}"
    assert parsed.standard() == f"浙江省宁波市余姚市{town[0]}{road}{number}号"


ADDRESS_CHARACTERS = list(
    "浙江省宁波市余姚梨洲街道三七市镇四明山乡塘头村社区居委会新建北路弄巷号幢栋单元室0123456789十二一百零()-# 　１２"
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.text(st.sampled_from(ADDRESS_CHARACTERS), max_size=30))
def test_standard_form_is_a_fixed_point(text: str) -> None:
    standard = parse_address(text).standard()
    assert parse_address(standard).standard() == standard


def test_registry_is_complete_stable_and_fast() -> None:
    started = time.perf_counter()
    full = gazetteer.standard_addresses(missing_share=0)
    assert time.perf_counter() - started < 2
    assert full.height == len(TOWNS) * len(ROADS) * 399
    assert full.columns == ["code", "town_code", "town", "village", "road", "number", "text", "lon", "lat"]
    assert full["code"].n_unique() == full.height
    assert full["code"][0] == f"{TOWNS[0].division_code}-01-001"
    assert registry().height == full.height - round(0.01 * full.height)
    assert registry()["code"].is_in(full["code"].implode()).all()
    assert gazetteer.standard_addresses().equals(registry())
    lat, lon = full["lat"].to_numpy(), full["lon"].to_numpy()
    assert 29.7 < lat.min() < lat.max() < 30.3
    assert 120.8 < lon.min() < lon.max() < 121.5
    small = gazetteer.standard_addresses(per_town=50)
    assert small.group_by("town").len()["len"].to_list() == [50] * len(TOWNS)


def test_villages_follow_the_kind_of_town() -> None:
    places = gazetteer.villages()
    assert places.height == len(TOWNS) * len(VILLAGES)
    streets = places.filter(pl.col("town").str.ends_with("街道"))
    assert streets["village"].str.ends_with("社区").all()
    assert places.filter(~pl.col("town").str.ends_with("街道"))["village"].str.ends_with("村").all()
    assert set(registry()["village"].unique()) <= set(places["village"])


def test_demo_addresses_match_exactly_except_the_doors_left_out() -> None:
    rng = np.random.default_rng(1)
    towns = TOWN_NAMES[rng.integers(0, len(TOWN_NAMES), 5000)]
    texts = addresses(np.random.default_rng(1), 5000, towns).to_list()
    found = index().match_many(texts)
    in_registry = set(zip(registry()["town"], registry()["road"], registry()["number"].cast(pl.String), strict=True))
    missing = 0
    for text, match in zip(texts, found, strict=True):
        parsed = parse_address(text)
        if (parsed.town, parsed.road, parsed.number) in in_registry:
            assert match.level == "exact", text
            assert match.text == f"浙江省宁波市余姚市{parsed.town}{parsed.road}{parsed.number}号"
            assert match.code is not None
        else:
            missing += 1
            assert match.level == "road", text
            assert match.code is None and match.lon is not None
    # About missing_share (1%) of 5,000: the expected 50, far from 0 and far from most.
    assert 20 <= missing <= 90


def test_match_falls_back_level_by_level() -> None:
    idx = index()
    first = registry().row(0, named=True)
    exact = idx.match(parse_address(first["text"]))
    assert (exact.level, exact.code, exact.lon, exact.lat) == ("exact", first["code"], first["lon"], first["lat"])

    road = idx.match(parse_address(f"梨洲街道{first['road']}9999号"))
    lowest = registry().filter(town="梨洲街道", road=first["road"]).sort("number").row(0, named=True)
    assert (road.level, road.code, road.lon, road.lat) == ("road", None, lowest["lon"], lowest["lat"])
    assert road.text == f"浙江省宁波市余姚市梨洲街道{first['road']}"

    village = idx.match(parse_address("梨洲街道塘头居委会"))
    place = gazetteer.villages().filter(town="梨洲街道", village="塘头社区").row(0, named=True)
    assert (village.level, village.lon, village.lat, village.text) == (
        "village", place["lon"], place["lat"], "浙江省宁波市余姚市梨洲街道塘头社区"
    )  # fmt: skip

    town = idx.match(parse_address("余姚市鹿亭乡不存在路1号"))
    assert (town.level, town.lon, town.lat) == ("town", TOWNS[-1].lon, TOWNS[-1].lat)
    assert idx.match(parse_address("杭州市西湖区文三路90号")) == NO_MATCH
    assert idx.match(parse_address("不知道")) == NO_MATCH
    assert idx.match_many([None, "", "  "]) == [NO_MATCH, NO_MATCH, NO_MATCH]


def test_match_without_a_town() -> None:
    frame = pl.DataFrame(
        {
            "code": ["a-1", "b-1", "b-2"],
            "town_code": ["330281001", "330281002", "330281002"],
            "town": ["梨洲街道", "凤山街道", "凤山街道"],
            "village": ["塘头社区", "浦口社区", "浦口社区"],
            "road": ["甲路", "乙路", "甲路"],
            "number": [1, 1, 1],
            "text": [
                "浙江省宁波市余姚市梨洲街道甲路1号",
                "浙江省宁波市余姚市凤山街道乙路1号",
                "浙江省宁波市余姚市凤山街道甲路1号",
            ],
            "lon": [121.1, 121.2, 121.3],
            "lat": [30.1, 30.2, 30.3],
        }
    )
    idx = AddressIndex(frame)
    assert idx.match(parse_address("余姚市乙路1号")).code == "b-1"  # unique city-wide: exact
    assert idx.match(parse_address("余姚市甲路1号")).level == "none"  # in two towns: cannot tell
    assert idx.match(parse_address("余姚市乙路7号")).level == "road"
    assert idx.match(parse_address("浦口社区甲路1号")).code == "b-2"  # the village tells the town
    assert idx.match(parse_address("凤山街道")).lon == pytest.approx(121.25)  # no town frame: the addresses' centre
