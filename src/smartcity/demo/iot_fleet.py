"""The Yuyao demo's device fleet (公共设施物联网): which devices each department runs, where, under what names.

The plan's numbers set the scale: 4,000 public Wi-Fi access points (项目1), elevators under remote monitoring
(四(五)3), water-level gauges along the 姚江, traffic detectors at the main crossings of the city centre, air-quality
stations, manhole covers, streetlights and cameras. Positions are synthetic: scattered around each town's seat
inside its (approximate) area, gauges spaced along a polyline that follows the 姚江 through the towns it crosses.
The fleet is a pure function of the scale and a seed, so the loader and the simulator agree on it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from smartcity.demo.departments import TOWNS, DepartmentSeed
from smartcity.demo.records import ROADS
from smartcity.platform.geo import city_map

_METRES_PER_DEGREE = 111_320.0
SEED = 330281

# The 姚江 from 梁弄 (四明湖) past 马渚 and the city centre, on through 三七市, 丈亭 and 河姆渡 to 大隐 (lon, lat).
YAO_RIVER = (
    (121.040, 29.930),
    (121.062, 29.990),
    (121.081, 30.040),
    (121.131, 30.040),
    (121.150, 30.031),
    (121.172, 30.030),
    (121.215, 30.028),
    (121.262, 30.025),
    (121.305, 30.024),
    (121.343, 29.996),
    (121.365, 29.976),
)

# The places public Wi-Fi serves (智慧城市 无线城市), by kind of town.
AP_PLACES_CITY = ("市民广场", "汽车站", "火车站", "人民医院", "图书馆", "体育馆", "商业街", "公园", "便民服务中心")
AP_PLACES_TOWN = ("镇政府", "卫生院", "文化礼堂", "农贸市场", "中心小学", "公交站", "便民服务中心")
COMMUNITIES = ("阳光", "锦绣", "东方", "城南", "金色", "嘉和", "翠屏", "景秀", "明珠", "新城", "龙泉", "舜江")


@dataclass(frozen=True)
class FleetPart:
    """One department's devices of one type: how many at each scale and how they are spread."""

    type: str
    department: str  # department code (demo/departments.py)
    prefix: str  # device codes are <prefix>-<number>
    small: int
    full: int
    spread: str  # "towns" (around every seat), "city" (the six street offices), or "river" (along the 姚江)


PARTS: tuple[FleetPart, ...] = (
    FleetPart("wifi_ap", "JXJ", "YY-AP", 4000, 4000, "towns"),
    FleetPart("elevator_monitor", "SCJ", "YY-DT", 300, 2400, "city"),
    FleetPart("water_level_gauge", "SLJ", "YJ-SW", 30, 30, "river"),
    FleetPart("traffic_detector", "JJDD", "YY-JC", 120, 480, "city"),
    FleetPart("air_quality_station", "HBJ", "YY-KQ", 14, 21, "towns"),
    FleetPart("manhole_cover_sensor", "ZJJ", "YY-JG", 300, 2000, "city"),
    FleetPart("streetlight_controller", "ZFJ", "YY-LD", 300, 3000, "towns"),
    FleetPart("camera", "GAJ", "YY-SX", 200, 1500, "towns"),
)


@dataclass(frozen=True)
class DemoDevice:
    code: str
    name: str
    type: str
    department: str
    town_code: str
    longitude: float
    latitude: float
    address: str


def _streets() -> list[DepartmentSeed]:
    return [t for t in TOWNS if t.short_name.endswith("街道")]


def _scatter(rng: random.Random, town: DepartmentSeed, sigma_m: float) -> tuple[float, float]:
    """A point near the town's seat inside its area (rejection sampling; the seat itself as a last resort)."""
    assert town.lat is not None and town.lon is not None
    area = next(a for a in city_map().towns if a.code == town.division_code)
    for _ in range(200):
        north, east = rng.gauss(0, sigma_m), rng.gauss(0, sigma_m)
        lat = town.lat + north / _METRES_PER_DEGREE
        lon = town.lon + east / (_METRES_PER_DEGREE * math.cos(math.radians(town.lat)))
        if area.contains(lon, lat):
            return round(lon, 6), round(lat, 6)
    return town.lon, town.lat


def _along_river(count: int) -> Iterator[tuple[float, float]]:
    legs = list(itertools.pairwise(YAO_RIVER))
    lengths = [math.dist(a, b) for a, b in legs]
    total = sum(lengths)
    for i in range(count):
        at = total * (i + 0.5) / count
        for (a, b), length in zip(legs, lengths, strict=True):
            if at <= length:
                f = at / length
                yield round(a[0] + (b[0] - a[0]) * f, 6), round(a[1] + (b[1] - a[1]) * f, 6)
                break
            at -= length


def _spread(rng: random.Random, part: FleetPart, count: int) -> list[tuple[DepartmentSeed, float, float]]:
    by_code = {t.division_code: t for t in TOWNS}
    if part.spread == "river":
        places = []
        for lon, lat in _along_river(count):
            code = city_map().town_at(lon, lat)
            if code is not None:
                places.append((by_code[code], lon, lat))
        return places
    if part.spread == "city":
        towns = _streets()
        return [(town, *_scatter(rng, town, 1200)) for town in (towns[i % len(towns)] for i in range(count))]
    # every town, the street offices three times as dense as the towns
    weights = [3 if t.short_name.endswith("街道") else 1 for t in TOWNS]
    if count <= len(TOWNS):
        chosen = sorted(TOWNS, key=lambda t: -weights[TOWNS.index(t)])[:count]
    else:
        chosen = rng.choices(TOWNS, weights=weights, k=count)
    return [(town, *_scatter(rng, town, 1000 if town.short_name.endswith("街道") else 1800)) for town in chosen]


def _name(rng: random.Random, part: FleetPart, town: DepartmentSeed, number: int, river_index: int) -> str:
    street = town.short_name.endswith("街道")
    road = rng.choice(ROADS)
    match part.type:
        case "wifi_ap":
            place = rng.choice(AP_PLACES_CITY if street else AP_PLACES_TOWN)
            return f"{town.short_name}{place}无线接入点{number:04d}"
        case "elevator_monitor":
            i = number - 1  # a stable, unique (community, building, car) per number
            return f"{COMMUNITIES[i % len(COMMUNITIES)]}小区{i // len(COMMUNITIES) % 30 + 1}幢{i // 360 + 1}号电梯"
        case "water_level_gauge":
            return f"姚江{town.short_name}段{river_index + 1:02d}号水位站"
        case "traffic_detector":
            other = rng.choice([r for r in ROADS if r != road])
            return f"{road}与{other}交叉口车流检测器"
        case "air_quality_station":
            return f"{town.short_name}空气质量自动监测站"
        case "manhole_cover_sensor":
            return f"{road}{rng.choice(('雨水', '污水', '通信', '燃气'))}井盖{number:04d}"
        case "streetlight_controller":
            return f"{town.short_name}{road if street else '主街'}路灯控制器{number:04d}"
        case _:
            return f"{town.short_name}{road if street else '路口'}视频监控{number:04d}"


def fleet(scale: str = "small") -> list[DemoDevice]:
    """Every device of the demo fleet at `scale` ("small" or "full"), in a stable order."""
    rng = random.Random(SEED)
    devices = []
    names: set[str] = set()
    for part in PARTS:
        count = part.full if scale == "full" else part.small
        for index, (town, lon, lat) in enumerate(_spread(rng, part, count)):
            number = index + 1
            name = _name(rng, part, town, number, index)
            if name in names:  # two detectors drawn at the same crossing: tell them apart by number
                name = f"{name}{number:04d}"
            names.add(name)
            devices.append(
                DemoDevice(
                    code=f"{part.prefix}-{number:04d}",
                    name=name,
                    type=part.type,
                    department=part.department,
                    town_code=str(town.division_code),
                    longitude=lon,
                    latitude=lat,
                    address=f"浙江省宁波市余姚市{town.short_name}",
                )
            )
    return devices
