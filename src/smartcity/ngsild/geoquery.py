"""NGSI-LD geo-queries (GS CIM 009 clause 4.10): `georel`, `geometry`, `coordinates`, `geoproperty`.

Relations follow the Simple Features model (shapely); `near;maxDistance==d` keeps entities within d metres of the
query geometry and `near;minDistance==d` those at least d metres away, measured on a local projection around the
query geometry (accurate to well under 1% across a city).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import geometry as shapes
from shapely.geometry.base import BaseGeometry

from smartcity.ngsild.entity import LOCATION, bbox, check_geometry
from smartcity.ngsild.errors import BadRequestData

RELATIONS = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")
_NEAR = re.compile(r"^near;(maxDistance|minDistance)==(\d+(\.\d+)?([eE][-+]?\d+)?)$")
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class GeoQuery:
    relation: str
    geometry: dict[str, Any]
    shape: BaseGeometry
    geoproperty: str  # expanded attribute name
    max_distance: float | None = None
    min_distance: float | None = None

    def window(self) -> tuple[float, float, float, float] | None:
        """A west/south/east/north box that every matching geometry overlaps (None: no such box, e.g. disjoint)."""
        if self.relation in ("disjoint",) or self.min_distance is not None:
            return None
        west, south, east, north = bbox(self.geometry)
        if self.max_distance is not None:
            pad_lat = self.max_distance / 110_540.0
            pad_lon = self.max_distance / (
                METRES_PER_DEGREE * max(math.cos(math.radians(max(abs(south), abs(north)))), 1e-6)
            )
            return west - pad_lon, south - pad_lat, east + pad_lon, north + pad_lat
        return west, south, east, north

    def matches(self, value: dict[str, Any]) -> bool:
        """Whether an entity's GeoProperty value (a GeoJSON geometry) stands in the relation."""
        try:
            target = shapes.shape(value)
        except (ValueError, TypeError, KeyError, AttributeError):
            return False
        if self.relation == "near":
            distance = _metres(self.shape, target)
            if self.max_distance is not None:
                return distance <= self.max_distance
            assert self.min_distance is not None
            return distance >= self.min_distance
        relation = {
            "within": target.within,
            "contains": target.contains,
            "intersects": target.intersects,
            "equals": target.equals,
            "disjoint": target.disjoint,
            "overlaps": target.overlaps,
        }[self.relation]
        return bool(relation(self.shape))


def _metres(query: BaseGeometry, target: BaseGeometry) -> float:
    origin = query.centroid
    scale_x = METRES_PER_DEGREE * math.cos(math.radians(origin.y))

    def project(points: np.ndarray) -> np.ndarray:
        return np.column_stack(((points[:, 0] - origin.x) * scale_x, (points[:, 1] - origin.y) * 110_540.0))

    return float(shapely.transform(query, project).distance(shapely.transform(target, project)))


def parse_geoquery(
    georel: str | None, geometry: str | None, coordinates: Any, geoproperty: str | None, expand: Any
) -> GeoQuery | None:
    """The geo-query of a request's parameters (all three of georel, geometry and coordinates, or none)."""
    given = [
        name for name, value in (("georel", georel), ("geometry", geometry), ("coordinates", coordinates)) if value
    ]
    if not given:
        if geoproperty:
            raise BadRequestData("geoproperty is given without georel, geometry and coordinates")
        return None
    if len(given) < 3:
        missing = [n for n in ("georel", "geometry", "coordinates") if n not in given]
        raise BadRequestData(
            f"a geo-query needs georel, geometry and coordinates together; missing: {', '.join(missing)}"
        )
    assert georel is not None and geometry is not None
    max_distance = min_distance = None
    relation = georel
    near = _NEAR.match(georel)
    if near:
        relation = "near"
        distance = float(near.group(2))
        if distance <= 0:
            raise BadRequestData(f"georel '{georel}': the distance must be a positive number of metres")
        if near.group(1) == "maxDistance":
            max_distance = distance
        else:
            min_distance = distance
    elif georel.startswith("near"):
        raise BadRequestData(f"georel '{georel}' must read near;maxDistance==<metres> or near;minDistance==<metres>")
    elif georel not in RELATIONS:
        raise BadRequestData(
            f"georel '{georel}' is not one of near;maxDistance==…, near;minDistance==…, {', '.join(RELATIONS[1:])}"
        )
    if isinstance(coordinates, str):
        try:
            coordinates = json.loads(coordinates)
        except ValueError:
            raise BadRequestData(f"coordinates must be a JSON array such as [121.15,30.04]: '{coordinates}'") from None
    geojson = check_geometry({"type": geometry, "coordinates": coordinates}, f"the {geometry} of the geo-query")
    try:
        shape = shapes.shape(geojson)
    except (ValueError, TypeError) as exc:
        raise BadRequestData(f"the geometry of the geo-query is not valid: {exc}") from None
    if relation in ("within", "contains", "overlaps") and not shape.is_valid:
        raise BadRequestData("the geometry of the geo-query is not a valid shape (a polygon crosses itself?)")
    iri = LOCATION if not geoproperty else expand(geoproperty)
    return GeoQuery(relation, geojson, shape, iri, max_distance, min_distance)
