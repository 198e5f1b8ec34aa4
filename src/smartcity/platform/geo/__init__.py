"""The city's map: its town areas as GeoJSON, the city outline they make up, and which town a point lies in.

The shipped layer (`yuyao-towns.geojson`, written by tools/derive_town_areas.py) holds approximate areas:
Voronoi cells of the 21 town seats clipped to the county outline. A city points SMARTCITY_TOWN_AREAS_FILE at
its own GIS layer of the same shape (a FeatureCollection of Polygons or MultiPolygons, WGS 84, each feature
with `code`, the 9-digit township division code, and `name`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from smartcity.config import get_settings

SHIPPED = Path(__file__).with_name("yuyao-towns.geojson")

Ring = list[tuple[float, float]]


@dataclass(frozen=True)
class TownArea:
    code: str
    name: str
    polygons: tuple[tuple[Ring, ...], ...]  # each polygon: its outer ring, then its holes
    bbox: tuple[float, float, float, float]  # west, south, east, north

    def contains(self, lon: float, lat: float) -> bool:
        west, south, east, north = self.bbox
        if not (west <= lon <= east and south <= lat <= north):
            return False
        return any(
            _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, hole) for hole in rings[1:])
            for rings in self.polygons
        )


@dataclass(frozen=True)
class CityMap:
    geojson: dict[str, Any]
    towns: tuple[TownArea, ...]
    bbox: tuple[float, float, float, float]
    approximate: bool

    def town_at(self, lon: float, lat: float) -> str | None:
        """The division code of the town whose area holds the point, or None outside the city."""
        return next((town.code for town in self.towns if town.contains(lon, lat)), None)

    def contains(self, lon: float, lat: float) -> bool:
        return self.town_at(lon, lat) is not None


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    """Even-odd ray casting; a ring's closing point may repeat its first."""
    inside = False
    x_prev, y_prev = ring[-1]
    for x, y in ring:
        if (y > lat) != (y_prev > lat) and lon < (x_prev - x) * (lat - y) / (y_prev - y) + x:
            inside = not inside
        x_prev, y_prev = x, y
    return inside


def _polygons(geometry: dict[str, Any]) -> tuple[tuple[Ring, ...], ...]:
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates") or []
    parts = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else None
    if parts is None:
        raise ValueError(f"a town area must be a Polygon or MultiPolygon, not {kind}")
    return tuple(tuple([(float(x), float(y)) for x, y, *_ in ring] for ring in part) for part in parts)


def parse(geojson: dict[str, Any]) -> CityMap:
    """Read a FeatureCollection of town areas; ValueError names the feature that cannot be used."""
    if geojson.get("type") != "FeatureCollection" or not geojson.get("features"):
        raise ValueError("the town areas must be a GeoJSON FeatureCollection with at least one feature")
    towns = []
    for index, feature in enumerate(geojson["features"]):
        properties = feature.get("properties") or {}
        code, name = properties.get("code"), properties.get("name")
        if not code or not name:
            raise ValueError(f"feature {index}: every town area needs the properties 'code' and 'name'")
        try:
            polygons = _polygons(feature.get("geometry") or {})
        except (TypeError, ValueError) as error:
            raise ValueError(f"feature {index} ({name}): {error}") from None
        xs = [x for rings in polygons for x, _ in rings[0]]
        ys = [y for rings in polygons for _, y in rings[0]]
        towns.append(TownArea(str(code), str(name), polygons, (min(xs), min(ys), max(xs), max(ys))))
    bbox = (
        min(t.bbox[0] for t in towns),
        min(t.bbox[1] for t in towns),
        max(t.bbox[2] for t in towns),
        max(t.bbox[3] for t in towns),
    )
    approximate = bool((geojson.get("properties") or {}).get("approximate"))
    return CityMap(geojson=geojson, towns=tuple(towns), bbox=bbox, approximate=approximate)


@lru_cache(maxsize=4)
def _load(path: str) -> CityMap:
    return parse(json.loads(Path(path).read_text(encoding="utf-8")))


def city_map() -> CityMap:
    """The configured town areas (the shipped approximate layer unless SMARTCITY_TOWN_AREAS_FILE names another)."""
    configured = get_settings().town_areas_file
    return _load(str(configured or SHIPPED))
