"""The city's map: the shipped town areas cover the 21 towns, each holding its own seat, and point-in-town
answers follow the areas' outlines and holes, not their bounding boxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smartcity.config import get_settings
from smartcity.demo.departments import TOWNS
from smartcity.platform import geo


def test_the_shipped_layer_holds_every_town_and_each_seat_lies_in_its_own_area() -> None:
    city = geo.parse(json.loads(geo.SHIPPED.read_text(encoding="utf-8")))
    assert city.approximate
    assert sorted(t.code for t in city.towns) == sorted(str(t.division_code) for t in TOWNS)
    for town in TOWNS:
        assert town.lon is not None and town.lat is not None
        assert city.town_at(town.lon, town.lat) == town.division_code, town.short_name
    west, south, east, north = city.bbox
    assert 120.8 < west < east < 121.5 and 29.6 < south < north < 30.4
    assert geo.SHIPPED.stat().st_size < 100_000


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(121.47, 31.23), (121.40, 30.30), (120.87, 29.68)],  # Shanghai; Cixi, inside the box; a corner of the box
)
def test_points_outside_the_outline_are_in_no_town(lon: float, lat: float) -> None:
    assert geo.city_map().town_at(lon, lat) is None and not geo.city_map().contains(lon, lat)


def _square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def test_a_city_can_bring_its_own_layer_with_holes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layer = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "A", "name": "外圈"},
                "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 10, 10), _square(4, 4, 6, 6)]},
            },
            {
                "type": "Feature",
                "properties": {"code": "B", "name": "内岛"},
                "geometry": {"type": "MultiPolygon", "coordinates": [[_square(4.5, 4.5, 5.5, 5.5)]]},
            },
        ],
    }
    path = tmp_path / "towns.geojson"
    path.write_text(json.dumps(layer), encoding="utf-8")
    monkeypatch.setenv("SMARTCITY_TOWN_AREAS_FILE", str(path))
    get_settings.cache_clear()
    try:
        city = geo.city_map()
        assert (city.town_at(1, 1), city.town_at(5, 5), city.town_at(4.2, 4.2), city.town_at(11, 5)) == (
            "A",
            "B",
            None,  # in A's hole, outside B
            None,
        )
        assert city.bbox == (0, 0, 10, 10) and not city.approximate
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        ({"type": "Feature"}, "FeatureCollection"),
        ({"type": "FeatureCollection", "features": [{"properties": {"name": "x"}}]}, "feature 0: every town"),
        (
            {
                "type": "FeatureCollection",
                "features": [{"properties": {"code": "A", "name": "甲"}, "geometry": {"type": "Point"}}],
            },
            "feature 0 (甲): a town area must be a Polygon or MultiPolygon, not Point",
        ),
    ],
)
def test_a_layer_that_cannot_be_used_is_refused_by_name(layer: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        geo.parse(layer)
