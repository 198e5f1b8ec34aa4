"""The standard address registry (标准地址库) of the Yuyao demo and the tests, built from the demo's towns and roads.

The town-level units and their seats are Yuyao's own (`smartcity.demo.departments.TOWNS`); the roads and villages are
the names the demo's records use (`smartcity.demo.records.ROADS` and `VILLAGES`). Every road gets door numbers
1-399 in every town, because the demo's residents and firms live at any road in any town; a small seeded share of
those doors is left out on purpose, so that the lists of unmatched addresses are not empty.

The positions are synthetic and approximate: each village and each road start sits at a fixed, hash-derived bearing
and distance (up to about 3-4 km) from its town's seat, and door numbers step along the road, odd numbers on one
side and even on the other. A city replaces this module's output with its own 地名地址 data.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from smartcity.demo.departments import TOWNS
from smartcity.demo.records import ROADS, VILLAGES
from smartcity.registry.address.parse import CITY, DISTRICT, PROVINCE

DOORS_PER_ROAD = 399
_METRES_PER_DEGREE = 111_320.0
_DOOR_STEP_M = 8.0  # along the road, between doors on the same side
_SIDE_M = 10.0  # across the road, from its centre line to a door


def _fractions(name: str) -> tuple[float, float, float]:
    """Three stable numbers in [0, 1) derived from a name (Python's hash() changes between runs)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=12).digest()
    a, b, c = (int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in (0, 4, 8))
    return a, b, c


def _offset(lat: np.ndarray, lon: np.ndarray, east_m: np.ndarray, north_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points moved by the given metres east and north (a flat-earth step, fine over a few kilometres)."""
    new_lat = lat + north_m / _METRES_PER_DEGREE
    new_lon = lon + east_m / (_METRES_PER_DEGREE * np.cos(np.radians(lat)))
    return new_lat, new_lon


def _village_name(town: str, village: str) -> str:
    return village + ("社区" if town.endswith("街道") else "村")


def towns() -> pl.DataFrame:
    """Yuyao's 21 town-level units (乡镇街道) with the approximate position of their government seat."""
    return pl.DataFrame(
        {
            "town_code": [t.division_code for t in TOWNS],
            "town": [t.short_name for t in TOWNS],
            "lon": [t.lon for t in TOWNS],
            "lat": [t.lat for t in TOWNS],
        },
        schema={"town_code": pl.String, "town": pl.String, "lon": pl.Float64, "lat": pl.Float64},
    )


def villages() -> pl.DataFrame:
    """Every town's communities (社区, in 街道) or villages (村, in 镇/乡), with synthetic positions."""
    rows: dict[str, list[str]] = {"town_code": [], "town": [], "village": []}
    seat_lat: list[float] = []
    seat_lon: list[float] = []
    bearing: list[float] = []
    distance: list[float] = []
    for town in TOWNS:
        for village in VILLAGES:
            a, b, _ = _fractions(f"{town.division_code}{village}")
            rows["town_code"].append(town.division_code or "")
            rows["town"].append(town.short_name)
            rows["village"].append(_village_name(town.short_name, village))
            seat_lat.append(town.lat or 0.0)
            seat_lon.append(town.lon or 0.0)
            bearing.append(2 * np.pi * a)
            distance.append(200.0 + 3800.0 * b)
    angle = np.array(bearing)
    metres = np.array(distance)
    lat, lon = _offset(np.array(seat_lat), np.array(seat_lon), metres * np.sin(angle), metres * np.cos(angle))
    return pl.DataFrame(rows).with_columns(lon=pl.Series(lon.round(6)), lat=pl.Series(lat.round(6)))


def _road_starts() -> pl.DataFrame:
    """Where each road starts in each town, which way it runs, and the village its start lies in."""
    places = villages()
    pairs = [(town, road) for town in TOWNS for road in ROADS]
    hashed = np.array([_fractions(f"{town.division_code}{road}") for town, road in pairs])
    angle, metres = 2 * np.pi * hashed[:, 0], 300.0 + 2700.0 * hashed[:, 1]
    seat_lat = np.array([town.lat or 0.0 for town, _ in pairs])
    seat_lon = np.array([town.lon or 0.0 for town, _ in pairs])
    lat, lon = _offset(seat_lat, seat_lon, metres * np.sin(angle), metres * np.cos(angle))
    # The village nearest to a road's start, among the villages of the same town (rows of `places` go town by town).
    v_lat = places["lat"].to_numpy().reshape(len(TOWNS), len(VILLAGES))
    v_lon = places["lon"].to_numpy().reshape(len(TOWNS), len(VILLAGES))
    town_index = np.repeat(np.arange(len(TOWNS)), len(ROADS))
    squared = (v_lat[town_index] - lat[:, None]) ** 2 + (
        (v_lon[town_index] - lon[:, None]) * np.cos(np.radians(lat[:, None]))
    ) ** 2
    nearest = town_index * len(VILLAGES) + np.argmin(squared, axis=1)
    return pl.DataFrame(
        {
            "town_code": [town.division_code or "" for town, _ in pairs],
            "town": [town.short_name for town, _ in pairs],
            "road_no": np.tile(np.arange(1, len(ROADS) + 1), len(TOWNS)),
            "road": [road for _, road in pairs],
            "village": places["village"].gather(nearest),
            "start_lat": lat,
            "start_lon": lon,
            "heading": 2 * np.pi * hashed[:, 2],
        }
    )


def standard_addresses(*, seed: int = 330281, per_town: int | None = None, missing_share: float = 0.01) -> pl.DataFrame:
    """Door addresses of every demo road in every town, less a seeded `missing_share` left out on purpose.

    `missing_share` of the doors (chosen by a generator seeded with `seed`) are dropped, so that addresses in the
    demo's records that point at them are reported as unmatched at the level "road". `per_town` keeps only that
    many doors per town (the lowest numbers of every road first), for a small registry. Codes read
    `{town_code}-{road_no:02}-{number:03}` and do not change with `seed`, `per_town` or `missing_share`.
    """
    roads = _road_starts()
    doors = np.arange(1, DOORS_PER_ROAD + 1)
    frame = roads.join(pl.DataFrame({"number": doors}), how="cross")
    total = frame.height
    if missing_share > 0:
        rng = np.random.default_rng(seed)
        left_out = rng.choice(total, size=round(missing_share * total), replace=False)
        keep = np.ones(total, dtype=bool)
        keep[left_out] = False
        frame = frame.filter(pl.Series(keep))
    if per_town is not None:
        frame = frame.sort("town_code", "number", "road_no").group_by("town_code", maintain_order=True).head(per_town)
        frame = frame.sort("town_code", "road_no", "number")

    number = frame["number"].to_numpy()
    along = ((number - 1) // 2) * _DOOR_STEP_M
    side = np.where(number % 2 == 1, -_SIDE_M, _SIDE_M)
    heading = frame["heading"].to_numpy()
    east = along * np.sin(heading) + side * np.cos(heading)
    north = along * np.cos(heading) - side * np.sin(heading)
    lat, lon = _offset(frame["start_lat"].to_numpy(), frame["start_lon"].to_numpy(), east, north)
    prefix = PROVINCE + CITY + DISTRICT
    return frame.select(
        pl.concat_str(
            "town_code",
            pl.lit("-"),
            pl.col("road_no").cast(pl.String).str.zfill(2),
            pl.lit("-"),
            pl.col("number").cast(pl.String).str.zfill(3),
        ).alias("code"),
        "town_code",
        "town",
        "village",
        "road",
        pl.col("number").cast(pl.Int64),
        pl.concat_str(pl.lit(prefix), "town", "road", pl.col("number").cast(pl.String), pl.lit("号")).alias("text"),
        pl.Series("lon", lon.round(6)),
        pl.Series("lat", lat.round(6)),
    )
