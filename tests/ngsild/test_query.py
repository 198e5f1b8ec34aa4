"""Conformance: Query Entities (clauses 4.9 q, 4.10 geo-queries, 4.17 type selection, 5.7.2, 6.4.3.2), batch
operations (5.6.7–5.6.10) and /types, /attributes (5.7.5–5.7.10)."""

from __future__ import annotations

import pytest

from tests.ngsild.conftest import Ngsi, gauge
from tests.ngsild.test_entities import problem

TOWN_HALL = "[121.154,30.037]"  # 余姚市政府, near 阳明街道


@pytest.fixture
def gauges(ngsi: Ngsi) -> Ngsi:
    """Five 姚江 gauges 1 km apart eastwards, two of them on alert, one a FloodMonitoring device too."""
    for n in range(1, 6):
        entity = gauge(n, level=1.0 + n)
        entity["location"]["value"]["coordinates"] = [round(121.10 + n * 0.0104, 6), 30.04]
        entity["alert"] = {"type": "Property", "value": "flood" if n >= 4 else "none"}
        entity["refRiver"] = {"type": "Relationship", "object": "urn:ngsi-ld:River:Yaojiang"}
        entity["address"] = {"type": "Property", "value": {"addressLocality": "阳明街道" if n < 3 else "凤山街道"}}
        if n == 5:
            entity["type"] = ["WaterObserved", "FloodMonitoring"]
        ngsi.create(entity)
    ngsi.create(
        {
            "id": "urn:ngsi-ld:AirQualityObserved:HB-01",
            "type": "AirQualityObserved",
            "pm25": {"type": "Property", "value": 35},
        }
    )
    return ngsi


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"].rsplit(":", 1)[-1] for e in response.json()]


def test_type_selection(gauges: Ngsi) -> None:
    assert len(ids(gauges.get("/entities", type="WaterObserved"))) == 5
    assert ids(gauges.get("/entities", type="FloodMonitoring")) == ["YJ-WL-0005"]
    assert len(ids(gauges.get("/entities", type="FloodMonitoring,AirQualityObserved"))) == 2
    assert ids(gauges.get("/entities", type="WaterObserved;FloodMonitoring")) == ["YJ-WL-0005"]
    assert ids(gauges.get("/entities", type="Unknown")) == []


def test_a_query_must_select_something(gauges: Ngsi) -> None:
    problem(gauges.get("/entities"), "BadRequestData", 400)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("height>4", ["0004", "0005"]),
        ("height>=4;height<6", ["0003", "0004"]),
        ("height==2..3", ["0001", "0002"]),
        ("height!=2..5", ["0005"]),
        ("height==2,4", ["0001", "0003"]),
        ('alert=="flood"', ["0004", "0005"]),
        ('alert!="flood"', ["0001", "0002", "0003"]),
        ('height<2.5|alert=="flood"', ["0001", "0004", "0005"]),
        ('(height<2.5|height>5.5);alert=="flood"', ["0005"]),
        ("refRiver==urn:ngsi-ld:River:Yaojiang;height<3", ["0001"]),
        ('address[addressLocality]=="凤山街道";height<5', ["0003"]),
        ('address[addressLocality]~="阳明"', ["0001", "0002"]),
        ('alert!~="^fl"', ["0001", "0002", "0003"]),
        ("height.observedAt>=2026-12-04T08:00:00Z;height<3", ["0001"]),
        ("height.observedAt<2026-12-04T07:00:00Z", []),
        ('height.unitCode=="MTR";height>5', ["0005"]),
        ("alert", ["0001", "0002", "0003", "0004", "0005"]),
        ("ghost", []),
    ],
)
def test_q(gauges: Ngsi, q: str, expected: list[str]) -> None:
    assert ids(gauges.get("/entities", type="WaterObserved", q=q)) == [f"YJ-WL-{e}" for e in expected]


@pytest.mark.parametrize(
    "q", ["height>", "(height>1", "height>>1", "height==1..", 'alert=="open', "height~=[", "a b>1", ";"]
)
def test_invalid_q_is_bad_request_data(gauges: Ngsi, q: str) -> None:
    body = problem(gauges.get("/entities", type="WaterObserved", q=q), "BadRequestData", 400)
    assert "q" in body["detail"]


def test_id_and_id_pattern(gauges: Ngsi) -> None:
    assert ids(
        gauges.get("/entities", id="urn:ngsi-ld:WaterObserved:YJ-WL-0002,urn:ngsi-ld:WaterObserved:YJ-WL-0004")
    ) == ["YJ-WL-0002", "YJ-WL-0004"]
    assert ids(gauges.get("/entities", idPattern="YJ-WL-000[45]$")) == ["YJ-WL-0004", "YJ-WL-0005"]
    problem(gauges.get("/entities", id="not-a-uri"), "BadRequestData", 400)
    problem(gauges.get("/entities", idPattern="(unclosed"), "BadRequestData", 400)


def test_attrs_selects_entities_with_one_of_them(gauges: Ngsi) -> None:
    assert ids(gauges.get("/entities", attrs="pm25")) == ["HB-01"]
    only = gauges.get("/entities", type="WaterObserved", attrs="height", limit="1").json()[0]
    assert set(only) == {"id", "type", "height"}


def test_geo_near(gauges: Ngsi) -> None:
    near = dict(type="WaterObserved", geometry="Point", coordinates="[121.1104,30.04]")
    assert ids(gauges.get("/entities", georel="near;maxDistance==1500", **near)) == ["YJ-WL-0001", "YJ-WL-0002"]
    assert ids(gauges.get("/entities", georel="near;maxDistance==10", **near)) == ["YJ-WL-0001"]
    assert ids(gauges.get("/entities", georel="near;minDistance==3500", **near)) == ["YJ-WL-0005"]


def test_geo_relations(gauges: Ngsi) -> None:
    box = "[[[121.115,30.03],[121.125,30.03],[121.125,30.05],[121.115,30.05],[121.115,30.03]]]"
    assert ids(gauges.get("/entities", type="WaterObserved", georel="within", geometry="Polygon", coordinates=box)) == [
        "YJ-WL-0002"
    ]
    assert ids(
        gauges.get("/entities", type="WaterObserved", georel="intersects", geometry="Polygon", coordinates=box)
    ) == ["YJ-WL-0002"]
    assert (
        len(ids(gauges.get("/entities", type="WaterObserved", georel="disjoint", geometry="Polygon", coordinates=box)))
        == 4
    )
    point = "[121.1312,30.04]"
    assert ids(gauges.get("/entities", type="WaterObserved", georel="equals", geometry="Point", coordinates=point)) == [
        "YJ-WL-0003"
    ]
    line = "[[121.10,30.04],[121.125,30.04]]"
    assert ids(
        gauges.get("/entities", type="WaterObserved", georel="intersects", geometry="LineString", coordinates=line)
    ) == ["YJ-WL-0001", "YJ-WL-0002"]


@pytest.mark.parametrize(
    "params",
    [
        {"georel": "near;maxDistance==-5", "geometry": "Point", "coordinates": TOWN_HALL},
        {"georel": "near;distance==5", "geometry": "Point", "coordinates": TOWN_HALL},
        {"georel": "inside", "geometry": "Point", "coordinates": TOWN_HALL},
        {"georel": "within", "geometry": "Circle", "coordinates": TOWN_HALL},
        {"georel": "within", "geometry": "Polygon", "coordinates": "[[1,2],[3,4]]"},
        {"georel": "near;maxDistance==5", "geometry": "Point", "coordinates": "[121.1,"},
        {"georel": "near;maxDistance==5", "geometry": "Point"},
    ],
)
def test_invalid_geo_queries(gauges: Ngsi, params: dict[str, str]) -> None:
    problem(gauges.get("/entities", type="WaterObserved", **params), "BadRequestData", 400)


def test_paging_and_count(gauges: Ngsi) -> None:
    first = gauges.get("/entities", type="WaterObserved", limit="2", count="true")
    assert first.headers["ngsild-results-count"] == "5"
    assert ids(first) == ["YJ-WL-0001", "YJ-WL-0002"]
    assert 'rel="next"' in first.headers["link"]
    last = gauges.get("/entities", type="WaterObserved", limit="2", offset="4", count="true")
    assert (
        ids(last) == ["YJ-WL-0005"]
        and 'rel="prev"' in last.headers["link"]
        and 'rel="next"' not in last.headers["link"]
    )
    counted = gauges.get("/entities", type="WaterObserved", q="height>2", limit="0", count="true")
    assert counted.json() == [] and counted.headers["ngsild-results-count"] == "4"
    problem(gauges.get("/entities", type="WaterObserved", limit="5000"), "TooManyResults", 403)
    problem(gauges.get("/entities", type="WaterObserved", limit="-1"), "BadRequestData", 400)
    problem(gauges.get("/entities", type="WaterObserved", options="fancy"), "BadRequestData", 400)


def test_geo_json_collection(gauges: Ngsi) -> None:
    response = gauges.get("/entities", type="WaterObserved", headers={"Accept": "application/geo+json"})
    collection = response.json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 5
    assert collection["features"][0]["geometry"]["type"] == "Point"


def test_query_by_post(gauges: Ngsi) -> None:
    body = {"type": "Query", "entities": [{"type": "WaterObserved"}], "q": 'alert=="flood"', "attrs": ["height"]}
    found = gauges.post("/entityOperations/query", body).json()
    assert [e["id"][-4:] for e in found] == ["0004", "0005"] and set(found[0]) == {"id", "type", "height"}
    geo = {
        "type": "Query",
        "entities": [{"type": "WaterObserved"}],
        "geoQ": {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": [121.1104, 30.04]},
    }
    assert [e["id"][-4:] for e in gauges.post("/entityOperations/query", geo).json()] == ["0001"]
    problem(gauges.post("/entityOperations/query", {"entities": []}), "BadRequestData", 400)


def test_types_and_attributes(gauges: Ngsi) -> None:
    listed = gauges.get("/types").json()
    assert listed["type"] == "EntityTypeList" and listed["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert listed["typeList"] == ["AirQualityObserved", "FloodMonitoring", "WaterObserved"]
    detailed = {t["typeName"]: t for t in gauges.get("/types", details="true").json()}
    assert detailed["WaterObserved"]["type"] == "EntityType"
    assert "height" in detailed["WaterObserved"]["attributeNames"]
    info = gauges.get("/types/WaterObserved").json()
    assert info["type"] == "EntityTypeInfo" and info["entityCount"] == 5
    assert {a["attributeName"]: a["attributeTypes"] for a in info["attributeDetails"]}["refRiver"] == ["Relationship"]
    problem(gauges.get("/types/Nothing"), "ResourceNotFound", 404)
    attrs = gauges.get("/attributes").json()
    assert (
        attrs["type"] == "AttributeList" and "pm25" in attrs["attributeList"] and "location" in attrs["attributeList"]
    )
    height = gauges.get("/attributes/height").json()
    assert height == {
        "id": "https://uri.etsi.org/ngsi-ld/default-context/height",
        "type": "Attribute",
        "attributeName": "height",
        "attributeCount": 5,
        "attributeTypes": ["Property"],
        "typeNames": ["FloodMonitoring", "WaterObserved"],
    }


def test_batch_create_reports_each_entity(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    response = ngsi.post("/entityOperations/create", [gauge(1), gauge(2), {**gauge(3), "id": "bad"}, gauge(4)])
    assert response.status_code == 207
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:WaterObserved:YJ-WL-0002", "urn:ngsi-ld:WaterObserved:YJ-WL-0004"]
    assert [e["error"]["type"].rsplit("/", 1)[-1] for e in result["errors"]] == ["AlreadyExists", "BadRequestData"]
    assert result["errors"][0]["entityId"] == "urn:ngsi-ld:WaterObserved:YJ-WL-0001"
    assert ngsi.get("/entities/urn:ngsi-ld:WaterObserved:YJ-WL-0004").status_code == 200
    all_good = ngsi.post("/entityOperations/create", [gauge(5), gauge(6)])
    assert all_good.status_code == 201 and len(all_good.json()) == 2


def test_batch_upsert_update_delete(ngsi: Ngsi) -> None:
    created = ngsi.post("/entityOperations/upsert", [gauge(1), gauge(2)])
    assert created.status_code == 201 and len(created.json()) == 2
    assert ngsi.post("/entityOperations/upsert", [gauge(1, level=9.0)]).status_code == 204
    assert ngsi.get("/entities/urn:ngsi-ld:WaterObserved:YJ-WL-0001", options="keyValues").json()["height"] == 9.0
    only_height = {"id": gauge(2)["id"], "type": "WaterObserved", "height": {"type": "Property", "value": 7.0}}
    assert ngsi.post("/entityOperations/upsert", [only_height], options="update").status_code == 204
    two = ngsi.get(gauge(2)["id"].join(["/entities/", ""]), options="keyValues").json()
    assert two["height"] == 7.0 and "name" in two
    update = ngsi.post(
        "/entityOperations/update", [{**only_height, "height": {"type": "Property", "value": 8.0}}, {**gauge(9)}]
    )
    assert update.status_code == 207 and update.json()["errors"][0]["error"]["type"].endswith("ResourceNotFound")
    deleted = ngsi.post("/entityOperations/delete", [gauge(1)["id"], "urn:ngsi-ld:WaterObserved:none"])
    assert deleted.status_code == 207 and deleted.json()["success"] == [gauge(1)["id"]]
    assert ngsi.post("/entityOperations/delete", [gauge(2)["id"]]).status_code == 204
    problem(ngsi.post("/entityOperations/create", {"not": "a list"}), "BadRequestData", 400)


def test_an_id_twice_in_one_batch_is_created_once(ngsi: Ngsi) -> None:
    response = ngsi.post("/entityOperations/create", [gauge(1), gauge(2), gauge(1, level=9.0)])
    assert response.status_code == 207
    result = response.json()
    assert result["success"] == [gauge(1)["id"], gauge(2)["id"]]
    assert [(e["entityId"], e["error"]["type"].rsplit("/", 1)[-1]) for e in result["errors"]] == [
        (gauge(1)["id"], "AlreadyExists")
    ]
    assert ngsi.get(f"/entities/{gauge(1)['id']}", options="keyValues").json()["height"] == 2.35
