"""NGSI-LD entities in and out: a request's entity checked and expanded into the stored form, and the stored form
compacted into the representation the client asked for (normalized, concise or keyValues, with or without
system attributes). GS CIM 009 clauses 4.5 (representations) and 5.2 (data types).

The stored form keeps an entity's attributes under their expanded names; each attribute is a list of instances
(one per datasetId), each instance an object of the core members (`type`, `value`, `object`, `observedAt` …, which
the core context makes unredefinable) and sub-attributes under their expanded names.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from smartcity.ngsild.errors import BadRequestData
from smartcity.ngsild.ldcontext import NGSI_LD, TermMap

PROPERTY, RELATIONSHIP, GEOPROPERTY = "Property", "Relationship", "GeoProperty"
LANGUAGEPROPERTY, LISTPROPERTY, LISTRELATIONSHIP = "LanguageProperty", "ListProperty", "ListRelationship"
JSONPROPERTY, VOCABPROPERTY = "JsonProperty", "VocabProperty"
# each attribute type and the member that holds its value
VALUE_MEMBER = {
    PROPERTY: "value",
    GEOPROPERTY: "value",
    RELATIONSHIP: "object",
    LANGUAGEPROPERTY: "languageMap",
    LISTPROPERTY: "valueList",
    LISTRELATIONSHIP: "objectList",
    JSONPROPERTY: "json",
    VOCABPROPERTY: "vocab",
}
ATTRIBUTE_TYPES = tuple(VALUE_MEMBER)
# members of an attribute that are not sub-attributes
MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "languageMap",
        "valueList",
        "objectList",
        "json",
        "vocab",
        "observedAt",
        "unitCode",
        "datasetId",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "objectType",
        "lang",
    }
)
SYSTEM_MEMBERS = ("createdAt", "modifiedAt")
ENTITY_MEMBERS = frozenset({"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt"})
GEO_ATTRIBUTES = frozenset({NGSI_LD + "location", NGSI_LD + "observationSpace", NGSI_LD + "operationSpace"})
LOCATION = NGSI_LD + "location"
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
MAX_SUB_DEPTH = 4
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_NAME = re.compile(r"^[^\s<>\"'=;()\[\]{}&?|\\,`]+$")
Instances = list[dict[str, Any]]


def is_uri(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 512 and _URI.match(value) is not None


def check_uri(value: object, what: str) -> str:
    if not isinstance(value, str) or not is_uri(value):
        raise BadRequestData(f"{what} must be a URI (e.g. urn:ngsi-ld:Vehicle:A4567), not {_show(value)}")
    return value


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def iso(moment: dt.datetime) -> str:
    """A UTC time as NGSI-LD writes it: ISO 8601 with a Z."""
    text = moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return text.replace(".000000Z", "Z")


def parse_time(value: object, what: str) -> dt.datetime:
    """An ISO 8601 date-time; one without an offset is read as UTC."""
    if not isinstance(value, str):
        raise BadRequestData(f"{what} must be an ISO 8601 date-time string, not {_show(value)}")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise BadRequestData(
            f"{what} must be an ISO 8601 date-time such as 2026-12-04T08:00:00Z, not {_show(value)}"
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def check_geometry(value: object, what: str) -> dict[str, Any]:
    """A GeoJSON geometry with WGS 84 coordinates (RFC 7946 order: longitude, latitude)."""
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise BadRequestData(f"{what} must be a GeoJSON geometry of type {', '.join(GEOMETRY_TYPES)}")
    kind = value["type"]
    coordinates = value.get("coordinates")
    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}[kind]

    def positions(node: Any, level: int) -> Iterable[Any]:
        if level == 0:
            yield node
            return
        if not isinstance(node, list) or not node:
            raise BadRequestData(f"{what}: the coordinates of a {kind} must be nested {depth} arrays deep")
        for child in node:
            yield from positions(child, level - 1)

    for position in positions(coordinates, depth):
        if (
            not isinstance(position, list)
            or len(position) not in (2, 3)
            or not all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in position)
        ):
            raise BadRequestData(
                f"{what}: each position must be [longitude, latitude] in numbers, not {_show(position)}"
            )
        if not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90):
            raise BadRequestData(f"{what}: the position {position} is not a longitude and latitude (WGS 84)")
    if kind == "LineString" and len(coordinates) < 2:  # type: ignore[arg-type]
        raise BadRequestData(f"{what}: a LineString needs at least two positions")
    rings: list[Any] = (
        [coordinates] if kind == "Polygon" else (list(coordinates or []) if kind == "MultiPolygon" else [])
    )
    for polygon in rings:
        for ring in polygon:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise BadRequestData(
                    f"{what}: a polygon's ring needs four or more positions, the last equal to the first"
                )
    return {"type": kind, "coordinates": coordinates}


def bbox(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    """West, south, east, north of a checked geometry."""
    xs: list[float] = []
    ys: list[float] = []

    def walk(node: Any) -> None:
        if node and isinstance(node[0], int | float):
            xs.append(float(node[0]))
            ys.append(float(node[1]))
        else:
            for child in node:
                walk(child)

    walk(geometry["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Expander:
    """Checks and expands a request's entities and attributes against its @context."""

    terms: TermMap
    now: dt.datetime

    def attribute_name(self, name: str) -> str:
        if not name or not _NAME.match(name) or len(name) > 256:
            raise BadRequestData(f"'{name}' is not a valid attribute name")
        iri = self.terms.expand(name)
        if iri is None:
            raise BadRequestData(f"the @context maps the attribute name '{name}' to null")
        return iri

    def type_name(self, name: object) -> str:
        if not isinstance(name, str) or not name or not _NAME.match(name) or len(name) > 256:
            raise BadRequestData(f"the entity type {_show(name)} is not a valid type name")
        iri = self.terms.expand(name)
        if iri is None:
            raise BadRequestData(f"the @context maps the entity type '{name}' to null")
        return iri

    def types(self, raw: object) -> list[str]:
        if raw is None:
            raise BadRequestData("the entity has no type")
        names = raw if isinstance(raw, list) else [raw]
        if not names:
            raise BadRequestData("the entity's type list is empty")
        expanded: list[str] = []
        for name in names:
            iri = self.type_name(name)
            if iri not in expanded:
                expanded.append(iri)
        return expanded

    def entity(
        self, raw: object, *, require_id: bool = True
    ) -> tuple[str, list[str], dict[str, Instances], list[str] | None]:
        """(id, expanded types, attributes, scope) of a request's entity."""
        if not isinstance(raw, dict):
            raise BadRequestData("an entity must be a JSON object")
        entity_id = raw.get("id")
        if require_id or entity_id is not None:
            if entity_id is None:
                raise BadRequestData("the entity has no id")
            check_uri(entity_id, "the entity id")
        types = self.types(raw.get("type"))
        attrs = self.attributes({k: v for k, v in raw.items() if k not in ENTITY_MEMBERS})
        return str(entity_id), types, attrs, self.scope(raw.get("scope"))

    def scope(self, raw: object) -> list[str] | None:
        if raw is None:
            return None
        scopes = raw if isinstance(raw, list) else [raw]
        for scope in scopes:
            if not isinstance(scope, str) or not re.match(r"^/[^\s/]+(/[^\s/]+)*$", scope):
                raise BadRequestData(f"the scope {_show(scope)} must be a path such as /Yuyao/Lanjiang")
        return list(scopes)

    def attributes(self, raw: dict[str, Any]) -> dict[str, Instances]:
        out: dict[str, Instances] = {}
        for name, value in raw.items():
            if name.startswith("@"):
                raise BadRequestData(f"'{name}' is not allowed in an NGSI-LD entity")
            iri = self.attribute_name(name)
            if iri in out:
                raise BadRequestData(f"the attribute '{name}' is given twice (under two names with one meaning)")
            out[iri] = self.instances(name, iri, value)
        return out

    def instances(self, name: str, iri: str, raw: object) -> Instances:
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise BadRequestData(f"the attribute '{name}' is an empty list")
        seen: set[str | None] = set()
        instances: Instances = []
        for item in items:
            instance = self.instance(name, item, depth=0, geo=iri in GEO_ATTRIBUTES)
            dataset = instance.get("datasetId")
            if dataset in seen:
                which = f"datasetId {dataset}" if dataset else "no datasetId (the default instance)"
                raise BadRequestData(f"the attribute '{name}' has two instances with {which}")
            seen.add(dataset)
            instances.append(instance)
        return instances

    def instance(self, name: str, raw: object, *, depth: int, geo: bool = False) -> dict[str, Any]:
        what = f"the attribute '{name}'"
        if not isinstance(raw, dict):
            raise BadRequestData(
                f"{what} must be an object with a type (Property, Relationship, GeoProperty …), not {_show(raw)}"
            )
        kind = raw.get("type")
        if kind is None:
            raise BadRequestData(f'{what} has no type: give "type": one of {", ".join(ATTRIBUTE_TYPES)}')
        if kind not in VALUE_MEMBER:
            raise BadRequestData(f"{what} has the type {_show(kind)}; it must be one of {', '.join(ATTRIBUTE_TYPES)}")
        if geo and kind != GEOPROPERTY:
            raise BadRequestData(f"{what} is a geospatial attribute: its type must be GeoProperty")
        member = VALUE_MEMBER[kind]
        if member not in raw or raw[member] is None:
            raise BadRequestData(f'{what} is a {kind} without "{member}"')
        value = raw[member]
        out: dict[str, Any] = {"type": kind}
        if kind == GEOPROPERTY:
            out["value"] = check_geometry(value, what)
        elif kind == RELATIONSHIP:
            targets = value if isinstance(value, list) else [value]
            for target in targets:
                check_uri(target, f"the object of {what}")
            out["object"] = value
        elif kind == LISTRELATIONSHIP:
            if not isinstance(value, list):
                raise BadRequestData(f"{what}: objectList must be a list of URIs")
            objects = [v.get("object") if isinstance(v, dict) else v for v in value]
            for target in objects:
                check_uri(target, f"an object of {what}")
            out["objectList"] = objects
        elif kind == LANGUAGEPROPERTY:
            if (
                not isinstance(value, dict)
                or not value
                or not all(
                    isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
                    for v in value.values()
                )
            ):
                raise BadRequestData(f"{what}: languageMap must map language tags (zh, en …) to strings")
            out["languageMap"] = value
        elif kind == LISTPROPERTY:
            if not isinstance(value, list):
                raise BadRequestData(f"{what}: valueList must be a list")
            out["valueList"] = value
        elif kind == VOCABPROPERTY:
            words = value if isinstance(value, list) else [value]
            expanded = [self.type_name(word) for word in words]
            out["vocab"] = expanded if isinstance(value, list) else expanded[0]
        else:
            out[member] = value
        if "observedAt" in raw:
            out["observedAt"] = iso(parse_time(raw["observedAt"], f"observedAt of {what}"))
        if "unitCode" in raw:
            if not isinstance(raw["unitCode"], str) or not raw["unitCode"]:
                raise BadRequestData(f"{what}: unitCode must be a UN/CEFACT code such as CEL or MTR")
            out["unitCode"] = raw["unitCode"]
        if "datasetId" in raw:
            if depth > 0:
                raise BadRequestData(f"{what}: a sub-attribute cannot have a datasetId")
            out["datasetId"] = check_uri(raw["datasetId"], f"the datasetId of {what}")
        if "objectType" in raw and kind in (RELATIONSHIP, LISTRELATIONSHIP):
            out["objectType"] = self.type_name(raw["objectType"])
        stamp = iso(self.now)
        out["createdAt"] = stamp
        out["modifiedAt"] = stamp
        for key, sub in raw.items():
            if key in MEMBERS:
                continue
            if depth + 1 >= MAX_SUB_DEPTH:
                raise BadRequestData(f"{what} nests sub-attributes deeper than {MAX_SUB_DEPTH} levels")
            if key.startswith("@"):
                raise BadRequestData(f"'{key}' is not allowed in an attribute")
            sub_iri = self.attribute_name(key)
            out[sub_iri] = self.instance(f"{name}.{key}", sub, depth=depth + 1)
        return out


def carry_created(old: Instances, new: Instances) -> Instances:
    """`new` instances keep the createdAt of the instances they replace (same datasetId)."""
    created = {i.get("datasetId"): i.get("createdAt") for i in old}
    for instance in new:
        stamp = created.get(instance.get("datasetId"))
        if stamp is not None:
            instance["createdAt"] = stamp
    return new


def value_of(instance: dict[str, Any]) -> Any:
    """The value an instance holds (its value, object, languageMap …)."""
    return instance.get(VALUE_MEMBER.get(instance.get("type", PROPERTY), "value"))


@dataclass(frozen=True)
class Shape:
    """How an entity is shown: `form` normalized, concise or keyValues; system attributes or not; which attributes
    (expanded names, None for all); the language of LanguageProperties (lang=)."""

    form: str = "normalized"
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None
    lang: str | None = None


def render_entity(
    entity_id: str,
    types: list[str],
    attrs: dict[str, Instances],
    terms: TermMap,
    shape: Shape,
    *,
    scope: list[str] | None = None,
    created: dt.datetime | None = None,
    modified: dt.datetime | None = None,
) -> dict[str, Any]:
    """The entity compacted against `terms`, in `shape`."""
    names = [terms.compact(t) for t in types]
    out: dict[str, Any] = {"id": entity_id, "type": names[0] if len(names) == 1 else names}
    if scope:
        out["scope"] = scope[0] if len(scope) == 1 else scope
    for iri, instances in attrs.items():
        if shape.attrs is not None and iri not in shape.attrs:
            continue
        out[terms.compact(iri)] = render_attribute(instances, terms, shape)
    if shape.sys_attrs and shape.form != "keyValues":
        if created is not None:
            out["createdAt"] = iso(created)
        if modified is not None:
            out["modifiedAt"] = iso(modified)
    return out


def render_attribute(instances: Instances, terms: TermMap, shape: Shape) -> Any:
    if shape.form == "keyValues":
        if len(instances) == 1:
            return _simple_value(instances[0], terms, shape)
        return {"dataset": {i.get("datasetId", "@none"): _simple_value(i, terms, shape) for i in instances}}
    rendered = [render_instance(i, terms, shape) for i in instances]
    return rendered[0] if len(rendered) == 1 else rendered


def _simple_value(instance: dict[str, Any], terms: TermMap, shape: Shape) -> Any:
    value = value_of(instance)
    kind = instance.get("type")
    if kind == VOCABPROPERTY:
        return [terms.compact(v) for v in value] if isinstance(value, list) else terms.compact(value)
    if kind == LANGUAGEPROPERTY and shape.lang:
        return _pick_language(value, shape.lang)
    return value


def _pick_language(languages: dict[str, Any], wanted: str) -> Any:
    for tag in [t.strip().split(";")[0] for t in wanted.split(",")]:
        if tag == "*" and languages:
            return next(iter(languages.values()))
        if tag in languages:
            return languages[tag]
    return languages.get("@none", next(iter(languages.values())))


def render_instance(instance: dict[str, Any], terms: TermMap, shape: Shape) -> Any:
    out: dict[str, Any] = {}
    kind = instance.get("type")
    for key, value in instance.items():
        if key in MEMBERS:
            if key in SYSTEM_MEMBERS and not shape.sys_attrs:
                continue
            if key == "vocab":
                value = [terms.compact(v) for v in value] if isinstance(value, list) else terms.compact(value)
            elif key == "objectType":
                value = terms.compact(value)
            out[key] = value
        else:
            out[terms.compact(key)] = render_instance(value, terms, shape)
    if kind == LANGUAGEPROPERTY and shape.lang:
        out.pop("languageMap", None)
        out["type"] = PROPERTY
        out["value"] = _pick_language(instance["languageMap"], shape.lang)
        out["lang"] = shape.lang
    if shape.form == "concise":
        return _concise(out)
    return out


def _concise(out: dict[str, Any]) -> Any:
    """Concise representation (clause 4.5.1.3): the type goes where the value member implies it; a Property with
    nothing but a plain value becomes that value, a GeoProperty its geometry."""
    kind = out.get("type")
    if kind == GEOPROPERTY and len(out) == 2:
        return out["value"]
    if kind in VALUE_MEMBER and kind != GEOPROPERTY:
        out.pop("type")
    if list(out) == ["value"] and not isinstance(out["value"], dict | list):
        return out["value"]
    return out
