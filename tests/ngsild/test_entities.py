"""Conformance: entity operations (GS CIM 009 clauses 5.6, 6.4–6.7) — create, retrieve, replace, merge, attributes,
delete — with the statuses, headers and bodies the specification gives them, and their refusals."""

from __future__ import annotations

from tests.ngsild.conftest import BASE, CORE, JSON_LD, Ngsi, gauge

ID = "urn:ngsi-ld:WaterObserved:YJ-WL-0001"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


def problem(response, name: str, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == ERRORS + name, body
    assert body["title"] and body["detail"]
    assert "link" not in response.headers  # errors carry no @context
    return body


def test_create_answers_201_with_the_location_of_the_entity(ngsi: Ngsi) -> None:
    response = ngsi.create(gauge(1))
    assert response.headers["location"] == f"{BASE}/entities/{ID}"
    assert response.content == b""


def test_retrieve_gives_the_entity_compacted_with_the_core_context_in_a_link_header(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    response = ngsi.get(f"/entities/{ID}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert (
        response.headers["link"] == f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    body = response.json()
    assert body["id"] == ID and body["type"] == "WaterObserved"
    assert body["height"] == {
        "type": "Property",
        "value": 2.35,
        "unitCode": "MTR",
        "observedAt": "2026-12-04T08:00:00Z",
    }
    assert body["location"]["value"]["type"] == "Point"
    assert "createdAt" not in body and "createdAt" not in body["height"]


def test_ld_json_answers_carry_the_context_in_the_body(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    response = ngsi.get(f"/entities/{ID}", headers={"Accept": JSON_LD})
    assert response.headers["content-type"] == JSON_LD
    assert "link" not in response.headers
    assert response.json()["@context"] == CORE


def test_sys_attrs_key_values_and_concise(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    full = ngsi.get(f"/entities/{ID}", options="sysAttrs").json()
    assert full["createdAt"].endswith("Z") and full["modifiedAt"] and full["height"]["createdAt"]
    simple = ngsi.get(f"/entities/{ID}", options="keyValues").json()
    assert simple["height"] == 2.35 and simple["location"]["type"] == "Point"
    assert ngsi.get(f"/entities/{ID}", format="simplified").json() == simple
    concise = ngsi.get(f"/entities/{ID}", options="concise").json()
    assert concise["name"] == "姚江水位站1号"
    assert concise["height"] == {"value": 2.35, "unitCode": "MTR", "observedAt": "2026-12-04T08:00:00Z"}
    assert concise["location"] == {"type": "Point", "coordinates": [121.151, 30.04]}


def test_attrs_limits_what_is_shown(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    body = ngsi.get(f"/entities/{ID}", attrs="height").json()
    assert set(body) == {"id", "type", "height"}


def test_geo_json_is_a_feature(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    response = ngsi.get(f"/entities/{ID}", headers={"Accept": "application/geo+json"})
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == ID
    assert feature["geometry"] == {"type": "Point", "coordinates": [121.151, 30.04]}
    assert feature["properties"]["type"] == "WaterObserved"


def test_unacceptable_accept_is_406(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    assert ngsi.get(f"/entities/{ID}", headers={"Accept": "text/csv"}).status_code == 406


def test_creating_twice_is_already_exists(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    problem(ngsi.post("/entities", gauge(1)), "AlreadyExists", 409)


def test_unknown_entity_is_resource_not_found(ngsi: Ngsi) -> None:
    problem(ngsi.get("/entities/urn:ngsi-ld:WaterObserved:none"), "ResourceNotFound", 404)


def test_bad_entities_are_refused_and_nothing_is_written(ngsi: Ngsi) -> None:
    cases = [
        ({**gauge(1), "id": "YJ-WL-0001"}, "must be a URI"),
        ({k: v for k, v in gauge(1).items() if k != "type"}, "has no type"),
        ({**gauge(1), "height": {"value": 3}}, "'height' has no type"),
        ({**gauge(1), "height": {"type": "Temperature", "value": 3}}, "must be one of"),
        ({**gauge(1), "height": {"type": "Property"}}, 'without "value"'),
        ({**gauge(1), "owner": {"type": "Relationship", "object": "not a uri"}}, "must be a URI"),
        (
            {**gauge(1), "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [200, 30]}}},
            "WGS 84",
        ),
        ({**gauge(1), "location": {"type": "Property", "value": 1}}, "must be GeoProperty"),
        ({**gauge(1), "height": {"type": "Property", "value": 1, "observedAt": "yesterday"}}, "ISO 8601"),
    ]
    for entity, words in cases:
        body = problem(ngsi.post("/entities", entity), "BadRequestData", 400)
        assert words in body["detail"], body
    problem(ngsi.get(f"/entities/{ID}"), "ResourceNotFound", 404)


def test_content_types(ngsi: Ngsi) -> None:
    response = ngsi.post("/entities", gauge(1), content_type="text/plain")
    assert response.status_code == 415 and response.content == b""
    problem(ngsi.post("/entities", b"{not json", content_type="application/json"), "InvalidRequest", 400)
    with_context = {**gauge(1), "@context": CORE}
    problem(ngsi.post("/entities", with_context), "BadRequestData", 400)  # @context in a plain JSON body
    problem(ngsi.post("/entities", gauge(1), content_type=JSON_LD), "BadRequestData", 400)  # ld+json without one
    link = {"Link": f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'}
    problem(ngsi.post("/entities", with_context, content_type=JSON_LD, headers=link), "BadRequestData", 400)
    assert ngsi.post("/entities", with_context, content_type=JSON_LD).status_code == 201


def test_a_body_over_the_limit_is_413(ngsi: Ngsi) -> None:
    huge = {**gauge(1), "note": {"type": "Property", "value": "x" * 1_100_000}}
    assert ngsi.post("/entities", huge).status_code == 413
    assert ngsi.get(f"/entities/{ID}").status_code == 404


def test_append_and_no_overwrite(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    response = ngsi.post(f"/entities/{ID}/attrs", {"flow": {"type": "Property", "value": 12.5}})
    assert response.status_code == 204
    response = ngsi.post(
        f"/entities/{ID}/attrs",
        {"height": {"type": "Property", "value": 9.9}, "alert": {"type": "Property", "value": "none"}},
        options="noOverwrite",
    )
    assert response.status_code == 207
    result = response.json()
    assert result["updated"] == ["https://uri.etsi.org/ngsi-ld/default-context/alert"]
    assert result["notUpdated"][0]["attributeName"] == "https://uri.etsi.org/ngsi-ld/default-context/height"
    body = ngsi.get(f"/entities/{ID}", options="keyValues").json()
    assert body["height"] == 2.35 and body["flow"] == 12.5 and body["alert"] == "none"


def test_update_touches_only_existing_attributes(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    assert ngsi.patch(f"/entities/{ID}/attrs", {"height": {"type": "Property", "value": 3.1}}).status_code == 204
    response = ngsi.patch(
        f"/entities/{ID}/attrs",
        {"height": {"type": "Property", "value": 3.2}, "ghost": {"type": "Property", "value": 1}},
    )
    assert response.status_code == 207
    assert [n["attributeName"] for n in response.json()["notUpdated"]] == [
        "https://uri.etsi.org/ngsi-ld/default-context/ghost"
    ]
    body = ngsi.get(f"/entities/{ID}", options="keyValues").json()
    assert body["height"] == 3.2 and "ghost" not in body


def test_partial_attribute_update_keeps_the_other_members(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    response = ngsi.patch(f"/entities/{ID}/attrs/height", {"value": 4.0, "observedAt": "2026-12-04T09:00:00Z"})
    assert response.status_code == 204
    height = ngsi.get(f"/entities/{ID}", options="sysAttrs").json()["height"]
    assert height["value"] == 4.0 and height["unitCode"] == "MTR" and height["observedAt"] == "2026-12-04T09:00:00Z"
    assert height["createdAt"] < height["modifiedAt"] or height["createdAt"] == height["modifiedAt"]
    problem(ngsi.patch(f"/entities/{ID}/attrs/nothing", {"value": 1}), "ResourceNotFound", 404)


def test_delete_attribute_and_entity(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    assert ngsi.delete(f"/entities/{ID}/attrs/height").status_code == 204
    assert "height" not in ngsi.get(f"/entities/{ID}").json()
    problem(ngsi.delete(f"/entities/{ID}/attrs/height"), "ResourceNotFound", 404)
    assert ngsi.delete(f"/entities/{ID}").status_code == 204
    problem(ngsi.get(f"/entities/{ID}"), "ResourceNotFound", 404)
    problem(ngsi.delete(f"/entities/{ID}"), "ResourceNotFound", 404)


def test_replace_and_merge(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1))
    replaced = {"type": "WaterObserved", "height": {"type": "Property", "value": 1.0}}
    assert ngsi.put(f"/entities/{ID}", replaced).status_code == 204
    assert set(ngsi.get(f"/entities/{ID}").json()) == {"id", "type", "height"}
    merge = {"height": {"type": "Property", "value": 1.5}, "flow": {"type": "Property", "value": 3}}
    assert ngsi.patch(f"/entities/{ID}", merge).status_code == 204
    assert (
        ngsi.patch(
            f"/entities/{ID}", {"flow": "urn:ngsi-ld:null"}, content_type="application/merge-patch+json"
        ).status_code
        == 204
    )
    body = ngsi.get(f"/entities/{ID}", options="keyValues").json()
    assert body == {"id": ID, "type": "WaterObserved", "height": 1.5}


def test_multi_attributes_by_dataset_id(ngsi: Ngsi) -> None:
    entity = gauge(1)
    entity["height"] = [
        {"type": "Property", "value": 2.3},
        {"type": "Property", "value": 2.4, "datasetId": "urn:ngsi-ld:Dataset:radar"},
    ]
    ngsi.create(entity)
    body = ngsi.get(f"/entities/{ID}").json()
    assert [i.get("datasetId") for i in body["height"]] == [None, "urn:ngsi-ld:Dataset:radar"]
    simple = ngsi.get(f"/entities/{ID}", options="keyValues").json()
    assert simple["height"] == {"dataset": {"@none": 2.3, "urn:ngsi-ld:Dataset:radar": 2.4}}
    assert ngsi.delete(f"/entities/{ID}/attrs/height", datasetId="urn:ngsi-ld:Dataset:radar").status_code == 204
    assert ngsi.get(f"/entities/{ID}").json()["height"]["value"] == 2.3
    twice = gauge(2)
    twice["height"] = [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}]
    problem(ngsi.post("/entities", twice), "BadRequestData", 400)


def test_relationships_and_language_properties(ngsi: Ngsi) -> None:
    entity = gauge(1)
    entity["refRiver"] = {"type": "Relationship", "object": "urn:ngsi-ld:River:YaojiangRiver"}
    entity["label"] = {"type": "LanguageProperty", "languageMap": {"zh": "姚江一号站", "en": "Yaojiang gauge 1"}}
    ngsi.create(entity)
    body = ngsi.get(f"/entities/{ID}", options="keyValues", lang="en").json()
    assert body["refRiver"] == "urn:ngsi-ld:River:YaojiangRiver" and body["label"] == "Yaojiang gauge 1"
    normal = ngsi.get(f"/entities/{ID}", lang="zh").json()
    assert normal["label"] == {"type": "Property", "value": "姚江一号站", "lang": "zh"}


def test_tenants_are_isolated(ngsi: Ngsi) -> None:
    ngsi.create(gauge(1), headers={"NGSILD-Tenant": "yuyao_water"})
    assert ngsi.get(f"/entities/{ID}", headers={"NGSILD-Tenant": "yuyao_water"}).status_code == 200
    problem(ngsi.get(f"/entities/{ID}"), "ResourceNotFound", 404)
    problem(ngsi.get(f"/entities/{ID}", headers={"NGSILD-Tenant": "nobody"}), "NonexistentTenant", 404)
    problem(ngsi.get(f"/entities/{ID}", headers={"NGSILD-Tenant": "bad tenant!"}), "BadRequestData", 400)


def test_readers_cannot_write(reader: Ngsi, ngsi: Ngsi) -> None:
    assert reader.post("/entities", gauge(1)).status_code == 403
    ngsi.create(gauge(1))
    assert reader.get(f"/entities/{ID}").status_code == 200
    assert ngsi.client.get(f"{BASE}/entities/{ID}").status_code == 401
