"""Conformance: JSON-LD @contexts (clauses 5.5.7, 5.13, 6.3.5) — terms expanded and compacted against the client's
context exactly as a JSON-LD processor (PyLD) expands them, contexts registered through /jsonldContexts or preloaded
from local files, and an unknown remote context refused at once, never fetched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pyld import jsonld

from smartcity.ngsild import contexts
from smartcity.ngsild.ldcontext import CORE_CONTEXT_URL, ContextResolver, core_document, load_context_map
from tests.ngsild.conftest import BASE, JSON_LD, Ngsi, gauge
from tests.ngsild.test_entities import problem

REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
SDM = "https://smartdatamodels.org/context.jsonld"
SDM_CONTEXT = {
    "@context": {
        "sdm": "https://smartdatamodels.org/",
        "WaterObserved": "https://smartdatamodels.org/dataModel.Environment/WaterObserved",
        "height": "https://smartdatamodels.org/dataModel.Environment/height",
        "name": "https://smartdatamodels.org/name",
        "refRiver": {"@id": "sdm:dataModel.Environment/refRiver", "@type": "@id"},
    }
}


def link(url: str) -> dict[str, str]:
    return {"Link": f"<{url}>; {REL}"}


def _pyld_loader(url: str, options: dict | None = None) -> dict:
    documents = {CORE_CONTEXT_URL: core_document(), SDM: SDM_CONTEXT}
    if url not in documents:
        raise jsonld.JsonLdError("not local", "loading document failed", code="loading document failed")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": documents[url]}


@pytest.mark.parametrize(
    "context",
    [
        SDM,
        {"ex": "https://example.org/yuyao#", "height": "ex:waterLevel", "WaterObserved": "ex:Gauge"},
        [{"@vocab": "https://example.org/v/"}, {"height": {"@id": "https://example.org/h", "@type": "@id"}}],
        {"ex": {"@id": "https://example.org/p/", "@prefix": True}, "name": "ex:name", "height": None},
    ],
)
def test_terms_expand_as_a_json_ld_processor_expands_them(context: object) -> None:
    resolver = ContextResolver({SDM: None}, registered=lambda url: SDM_CONTEXT if url == SDM else None)  # type: ignore[dict-item]
    resolver.preloaded = {}
    terms = resolver.active(context)
    names = ["height", "name", "WaterObserved", "ex:flow", "location", "observedAt", "urn:x:y", "plainWord"]
    document: dict = {"@context": [*(context if isinstance(context, list) else [context]), CORE_CONTEXT_URL]}
    document.update({name: "v" for name in names if name not in ("WaterObserved",)})
    document["@type"] = "WaterObserved"
    expanded = jsonld.expand(document, {"documentLoader": _pyld_loader})[0]
    for name in names:
        ours = terms.expand(name)
        if name == "WaterObserved":
            assert [ours] == expanded["@type"]
        elif ours is None:
            assert not any(k.endswith(name) for k in expanded)
        else:
            assert ours in expanded, (name, ours, sorted(expanded))


def test_a_client_context_in_the_link_header_is_used_both_ways(ngsi: Ngsi, db) -> None:
    contexts.load_cached(db, SDM, SDM_CONTEXT)
    entity = gauge(1)
    entity["refRiver"] = {"type": "Relationship", "object": "urn:ngsi-ld:River:Yaojiang"}
    ngsi.create(entity, headers=link(SDM))
    # read with the core context only: the names come back as full IRIs
    plain = ngsi.get(f"/entities/{entity['id']}").json()
    assert plain["type"] == "https://smartdatamodels.org/dataModel.Environment/WaterObserved"
    assert "https://smartdatamodels.org/dataModel.Environment/height" in plain
    assert "location" in plain  # a core term stays a core term
    # read with the client's context: short names, and the Link header names that context
    response = ngsi.get(f"/entities/{entity['id']}", headers=link(SDM))
    assert response.headers["link"].startswith(f"<{SDM}>")
    body = response.json()
    assert body["type"] == "WaterObserved" and body["height"]["value"] == 2.35 and "refRiver" in body
    # a query with the client's names finds it; with the core context the same short name means another attribute
    assert len(ngsi.get("/entities", type="WaterObserved", q="height>2", headers=link(SDM)).json()) == 1
    assert ngsi.get("/entities", type="WaterObserved", q="height>2").json() == []


def test_an_inline_context_in_an_ld_json_body(ngsi: Ngsi) -> None:
    inline = {"ex": "https://example.org/yuyao#", "level": "ex:level"}
    entity = {
        "@context": [inline, CORE_CONTEXT_URL],
        "id": "urn:ngsi-ld:Gauge:1",
        "type": "ex:Gauge",
        "level": {"type": "Property", "value": 1.2},
    }
    assert ngsi.post("/entities", entity, content_type=JSON_LD).status_code == 201
    body = ngsi.get("/entities/urn:ngsi-ld:Gauge:1").json()
    assert body["type"] == "https://example.org/yuyao#Gauge" and body["https://example.org/yuyao#level"]["value"] == 1.2


def test_an_unknown_remote_context_is_refused_at_once(ngsi: Ngsi) -> None:
    started = time.monotonic()
    body = problem(
        ngsi.get("/entities", type="T", headers=link("https://example.invalid/ctx.jsonld")),
        "LdContextNotAvailable",
        504,
    )
    assert time.monotonic() - started < 1.0
    assert "never fetches" in body["detail"]
    problem(
        ngsi.post("/entities", gauge(1), headers=link("https://example.invalid/ctx.jsonld")),
        "LdContextNotAvailable",
        504,
    )
    problem(ngsi.get("/entities", type="T", headers=link("relative/ctx.jsonld")), "BadRequestData", 400)


def test_registered_contexts(ngsi: Ngsi) -> None:
    created = ngsi.post("/jsonldContexts", {"@context": {"level": "https://example.org/yuyao#level"}})
    assert created.status_code == 201
    location = created.headers["location"]
    assert location.startswith(f"{BASE}/jsonldContexts/")
    served = ngsi.client.get(location, headers=ngsi.headers(None))
    assert served.json() == {"@context": {"level": "https://example.org/yuyao#level"}}
    url = "http://127.0.0.1:8000" + location  # the URL a client puts in its Link header
    ngsi.create(
        {"id": "urn:ngsi-ld:Gauge:2", "type": "Gauge", "level": {"type": "Property", "value": 3}}, headers=link(url)
    )
    assert "https://example.org/yuyao#level" in ngsi.get("/entities/urn:ngsi-ld:Gauge:2").json()
    listed = ngsi.get("/jsonldContexts").json()
    assert CORE_CONTEXT_URL in listed and any(u.endswith(location) for u in listed)
    details = ngsi.get("/jsonldContexts", details="true", kind="Hosted").json()
    assert {d["kind"] for d in details} == {"Hosted"}
    context_id = location.rsplit("/", 1)[-1]
    assert ngsi.delete(f"/jsonldContexts/{context_id}").status_code == 204
    problem(ngsi.get(f"/jsonldContexts/{context_id}"), "ResourceNotFound", 404)
    problem(ngsi.post("/jsonldContexts", {"no": "context"}), "BadRequestData", 400)
    problem(
        ngsi.post("/jsonldContexts", {"@context": "https://example.invalid/x.jsonld"}), "LdContextNotAvailable", 504
    )


def test_cached_contexts_are_not_served_but_described(ngsi: Ngsi, db) -> None:
    contexts.load_cached(db, SDM, SDM_CONTEXT)
    cached = [d for d in ngsi.get("/jsonldContexts", details="true", kind="Cached").json() if d["URL"] == SDM]
    assert cached and cached[0]["kind"] == "Cached"
    local = cached[0]["localId"].rsplit(":", 1)[-1]
    problem(ngsi.get(f"/jsonldContexts/{local}"), "OperationNotSupported", 422)
    assert ngsi.get(f"/jsonldContexts/{local}", details="true").json()["URL"] == SDM
    problem(ngsi.delete(f"/jsonldContexts/{local}", reload="true"), "BadRequestData", 400)


def test_the_operator_preload_map(tmp_path: Path) -> None:
    (tmp_path / "sdm.jsonld").write_text(json.dumps(SDM_CONTEXT), encoding="utf-8")
    (tmp_path / "map.json").write_text(json.dumps({SDM: "sdm.jsonld"}), encoding="utf-8")
    resolver = ContextResolver(load_context_map(tmp_path / "map.json"))
    assert resolver.active(SDM).expand("height") == "https://smartdatamodels.org/dataModel.Environment/height"
    (tmp_path / "bad.json").write_text("[1]", encoding="utf-8")
    with pytest.raises(ValueError, match="URL → file path"):
        load_context_map(tmp_path / "bad.json")


def test_the_core_context_cannot_be_redefined() -> None:
    terms = ContextResolver().active({"location": "https://example.org/where", "value": "https://example.org/v"})
    assert terms.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert terms.expand("value") == "https://uri.etsi.org/ngsi-ld/hasValue"
