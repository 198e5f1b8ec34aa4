"""DCAT exports parse as JSON-LD into the triples a DCAT harvester expects."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, XSD
from sqlalchemy.orm import Session

from smartcity.platform.permissions import Role
from tests.factories import auth, make_department, make_entry, make_token, make_user, principal

CSVW = Namespace("http://www.w3.org/ns/csvw#")
EU_FREQ = "http://publications.europa.eu/resource/authority/frequency/"


def graph_of(body: str) -> Graph:
    graph = Graph()
    graph.parse(data=body, format="json-ld")
    return graph


def test_entry_dcat_is_a_dataset_with_schema(client: TestClient, db: Session) -> None:
    make_department(db)
    make_entry(db)
    token = make_token(db, principal(make_user(db, "ds", Role.DEPT_STAFF, "GAJ")))
    response = client.get("/api/v1/catalog/entries/330281-GAJ-00001/dcat", headers=auth(token))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    graph = graph_of(response.text)
    dataset = URIRef("http://testserver/api/v1/catalog/entries/330281-GAJ-00001")
    assert (dataset, RDF.type, DCAT.Dataset) in graph
    assert (dataset, DCTERMS.identifier, Literal("330281-GAJ-00001")) in graph
    assert (dataset, DCTERMS.title, Literal("人口基础信息", lang="zh-CN")) in graph
    assert (dataset, DCAT.keyword, Literal("户籍", lang="zh-CN")) in graph
    assert (dataset, DCTERMS.accrualPeriodicity, URIRef(EU_FREQ + "DAILY")) in graph
    publisher = graph.value(dataset, DCTERMS.publisher)
    assert publisher == URIRef("http://testserver/api/v1/departments/GAJ")
    schema = graph.value(dataset, CSVW.tableSchema)
    names = {str(graph.value(col, CSVW.name)) for col in graph.objects(schema, CSVW.column)}
    assert names == {"resident_id", "full_name", "birth_date"}
    birth = next(c for c in graph.objects(schema, CSVW.column) if str(graph.value(c, CSVW.name)) == "birth_date")
    assert graph.value(birth, CSVW.datatype) == XSD.date


def test_catalogue_dcat_lists_every_entry(client: TestClient, db: Session) -> None:
    make_department(db)
    for n in range(1, 4):
        make_entry(db, code=f"330281-GAJ-{n:05d}", name=f"公安数据{n}")
    token = make_token(db, principal(make_user(db, "ds", Role.DEPT_STAFF, "GAJ")))
    body = client.get("/api/v1/catalog/dcat", headers=auth(token)).text
    assert json.loads(body)["@type"] == "dcat:Catalog"
    graph = graph_of(body)
    catalogue = URIRef("http://testserver/api/v1/catalog/dcat")
    assert (catalogue, RDF.type, DCAT.Catalog) in graph
    assert len(list(graph.objects(catalogue, DCAT.dataset))) == 3
    assert len(list(graph.subjects(RDF.type, DCAT.Dataset))) == 3
