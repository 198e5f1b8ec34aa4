"""The NGSI-LD API (ETSI GS CIM 009, HTTP binding clause 6) under /ngsi-ld/v1: entities, their attributes, batch
operations, entity types and attributes, and @contexts. Subscriptions, registrations and the temporal API are in
their own routers (subscriptions.py, registrations.py, temporal.py)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.ngsild import contexts, notify, store, subscriptions
from smartcity.ngsild.entity import ENTITY_MEMBERS, MEMBERS, Expander, Shape, check_uri, render_entity
from smartcity.ngsild.errors import BadRequestData, NgsiLdError, ResourceNotFound, TooManyResults
from smartcity.ngsild.geoquery import parse_geoquery
from smartcity.ngsild.http import (
    COUNT_HEADER,
    GEO_JSON,
    JSON,
    JSON_LD,
    Ld,
    RawBody,
    begin,
    flag,
    no_content,
    options_of,
    plain,
    read_body,
    respond,
    shape_of,
)
from smartcity.ngsild.permissions import NGSILD_READ, NGSILD_WRITE
from smartcity.ngsild.query import parse_q, parse_types
from smartcity.ngsild.store import Change, Query, Stored
from smartcity.platform.deps import DbSession
from smartcity.platform.identity.deps import api
from smartcity.platform.identity.principal import Principal

PREFIX = "/ngsi-ld/v1"
router = APIRouter(prefix=PREFIX, tags=["ngsi-ld"])
Reader = Annotated[Principal, Depends(api(NGSILD_READ))]
Writer = Annotated[Principal, Depends(api(NGSILD_WRITE))]
ENTITY_REPRESENTATIONS = (JSON, JSON_LD, GEO_JSON)
BATCH = "/entityOperations"


def _entity_id(raw: str) -> str:
    return check_uri(raw, "the entity id in the path")


def _on_entity(request: Request, session: Session, raw: bytes | None, entity_id: str) -> tuple[Ld, str]:
    """The request of an operation on one entity whose answer has no body: its Ld and the checked entity id."""
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    checked = _entity_id(entity_id)
    store.require_tenant(session, ld.tenant)
    return ld, checked


def _render(ld: Ld, entity: Stored, shape: Shape) -> dict[str, Any]:
    return render_entity(
        entity.entity_id,
        entity.types,
        entity.attrs,
        ld.terms,
        shape,
        scope=entity.scope,
        created=entity.created_at,
        modified=entity.modified_at,
    )


def _feature(ld: Ld, entity: dict[str, Any], geometry_property: str) -> dict[str, Any]:
    properties = {k: v for k, v in entity.items() if k != "id"}
    geometry = properties.get(geometry_property)
    if isinstance(geometry, dict) and "value" in geometry and geometry.get("type") == "GeoProperty":
        geometry = geometry["value"]
    elif not (isinstance(geometry, dict) and "coordinates" in geometry):
        geometry = None
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}


def _answer_entities(
    ld: Ld, request: Request, entities: list[dict[str, Any]], headers: dict[str, str], single: bool
) -> Response:
    if ld.accept == GEO_JSON:
        prop = request.query_params.get("geometryProperty") or "location"
        features = [_feature(ld, e, prop) for e in entities]
        body: Any = features[0] if single else {"type": "FeatureCollection", "features": features}
        body = {**body, "@context": ld.body_context()}
        return Response(
            _dumps(body), media_type=GEO_JSON, headers=headers | ({"NGSILD-Tenant": ld.tenant} if ld.tenant else {})
        )
    return respond(ld, entities[0] if single else entities, headers=headers)


def _dumps(payload: Any) -> bytes:
    import orjson

    return orjson.dumps(payload)


def _record(session: Session, tenant: str, changes: list[Change], ld: Ld) -> None:
    notify.changed(session, tenant, changes, ld.now)


# ---------------------------------------------------------------------------------------------------- entities


@router.post("/entities", status_code=201, summary="Create Entity")
def create_entity(request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    entity_id, types, attrs, scope = ld.expander.entity(ld.body)
    change = store.create(session, ld.tenant, entity_id, types, attrs, scope, ld.now)
    _record(session, ld.tenant, [change], ld)
    return no_content(ld, status=201, headers={"Location": f"{PREFIX}/entities/{entity_id}"})


def _page(request: Request) -> tuple[int, int, bool]:
    settings = get_settings()
    count = flag(request, "count")

    def number(name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not re.fullmatch(r"\d{1,9}", raw):
            raise BadRequestData(f"{name} must be a whole number of 0 or more, not '{raw}'")
        return int(raw)

    limit = number("limit", settings.ngsild_default_limit)
    offset = number("offset", 0)
    if limit == 0 and not count:
        raise BadRequestData("limit=0 only makes sense with count=true")
    if limit > settings.ngsild_max_limit:
        raise TooManyResults(f"limit {limit} is above this broker's most, {settings.ngsild_max_limit} entities a page")
    return limit, offset, count


def query_of(request: Request, ld: Ld, params: dict[str, Any] | None = None, *, require_filter: bool = True) -> Query:
    """The entity selection of a request's parameters (or of a Query object's members, `params`)."""
    get = (params or request.query_params).get
    expand = ld.expander
    query = Query()
    raw_type = get("type")
    if raw_type:
        if raw_type == "*":
            query.types = None
        else:
            query.types = parse_types(raw_type, expand.type_name)
    raw_ids = get("id")
    if raw_ids:
        ids = raw_ids if isinstance(raw_ids, list) else raw_ids.split(",")
        query.ids = [check_uri(i.strip(), "each id of the query") for i in ids]
    pattern = get("idPattern")
    if pattern:
        try:
            query.id_pattern = re.compile(pattern)
        except re.error as exc:
            raise BadRequestData(f"idPattern '{pattern}' is not a regular expression: {exc}") from None
    attrs = get("attrs")
    if attrs:
        names = attrs if isinstance(attrs, list) else attrs.split(",")
        query.attrs = frozenset(expand.attribute_name(n.strip()) for n in names if n.strip())
    q = get("q")
    if q:
        query.q = parse_q(q, ld.terms)
    geo_q = get("geoQ") if params is not None else None
    if isinstance(geo_q, dict):
        query.geo = parse_geoquery(
            geo_q.get("georel"),
            geo_q.get("geometry"),
            geo_q.get("coordinates"),
            geo_q.get("geoproperty"),
            expand.attribute_name,
        )
    else:
        query.geo = parse_geoquery(
            get("georel"), get("geometry"), get("coordinates"), get("geoproperty"), expand.attribute_name
        )
    scope_q = get("scopeQ")
    if scope_q:
        query.scope = _scope_pattern(scope_q)
    local = get("local") in ("true", True)
    if (
        require_filter
        and not local
        and raw_type != "*"
        and not any((raw_type, raw_ids, pattern, attrs, q, query.geo, scope_q))
    ):
        raise BadRequestData(
            "the query selects nothing: give at least one of type, id, idPattern, attrs, q, georel (or local=true)"
        )
    return query


def _scope_pattern(text: str) -> re.Pattern[str]:
    """scopeQ (clause 4.19): scopes joined by , ; or | (each read as or), '#' a whole subtree, '+' one level."""
    parts = []
    for scope in re.split(r"[,;|]", text):
        scope = scope.strip().strip("()")
        if not scope.startswith("/"):
            raise BadRequestData(f"scopeQ '{text}': each scope starts with '/'")
        pattern = "^" + re.escape(scope).replace(r"/\#", "(/.*)?").replace(r"\+", "[^/]+") + "$"
        parts.append(pattern)
    return re.compile("|".join(parts))


@router.get("/entities", summary="Query Entities")
def query_entities(request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session, offered=ENTITY_REPRESENTATIONS)
    store.require_tenant(session, ld.tenant)
    shape = shape_of(request, ld)
    query = query_of(request, ld)
    limit, offset, count = _page(request)
    page, total = store.run_query(session, ld.tenant, query, offset=offset, limit=limit, count=count)
    headers = _paging_links(request, offset, limit, len(page), total)
    if total is not None:
        headers[COUNT_HEADER] = str(total)
    return _answer_entities(ld, request, [_render(ld, e, shape) for e in page], headers, single=False)


def _paging_links(request: Request, offset: int, limit: int, got: int, total: int | None) -> dict[str, str]:
    links = []
    params = dict(request.query_params)
    if offset > 0 and limit:
        params["offset"] = str(max(offset - limit, 0))
        links.append(f'<{request.url.path}?{urlencode(params)}>; rel="prev"')
    more = (total is not None and offset + got < total) or (total is None and got == limit and limit > 0)
    if more:
        params["offset"] = str(offset + limit)
        links.append(f'<{request.url.path}?{urlencode(params)}>; rel="next"')
    return {"Link": ", ".join(links)} if links else {}


@router.get("/entities/{entity_id}", summary="Retrieve Entity")
def retrieve_entity(entity_id: str, request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session, offered=ENTITY_REPRESENTATIONS)
    entity_id = _entity_id(entity_id)
    store.require_tenant(session, ld.tenant)
    shape = shape_of(request, ld)
    entity = store.require(session, ld.tenant, entity_id)
    return _answer_entities(ld, request, [_render(ld, entity, shape)], {}, single=True)


@router.delete("/entities/{entity_id}", status_code=204, summary="Delete Entity")
def delete_entity(entity_id: str, request: Request, principal: Writer, session: DbSession) -> Response:
    ld, entity_id = _on_entity(request, session, None, entity_id)
    change = store.delete_entity(session, ld.tenant, entity_id)
    _record(session, ld.tenant, [change], ld)
    return no_content(ld)


@router.put("/entities/{entity_id}", status_code=204, summary="Replace Entity")
def replace_entity(entity_id: str, request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld, entity_id = _on_entity(request, session, raw, entity_id)
    body = ld.body
    if isinstance(body, dict) and "id" in body and body["id"] != entity_id:
        raise BadRequestData(f"the body's id {body['id']} is not the id in the path, {entity_id}")
    if isinstance(body, dict):
        body = {**body, "id": entity_id}
    _, types, attrs, scope = ld.expander.entity(body)
    change = store.replace_entity(session, ld.tenant, entity_id, types, attrs, scope, ld.now)
    _record(session, ld.tenant, [change], ld)
    return no_content(ld)


NULL = "urn:ngsi-ld:null"


@router.patch("/entities/{entity_id}", status_code=204, summary="Merge Entity")
def merge_entity(entity_id: str, request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    """Merge Entity (clause 5.6.17): attributes are merged member by member; the value urn:ngsi-ld:null deletes."""
    ld, entity_id = _on_entity(request, session, raw, entity_id)
    body = ld.body
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object of attributes")
    if "id" in body and body["id"] != entity_id:
        raise BadRequestData(f"the body's id {body['id']} is not the id in the path, {entity_id}")
    expander = ld.expander
    entity = store.require(session, ld.tenant, entity_id, for_update=True)
    before = store._copy(entity)
    touched: set[str] = set()
    for name, raw in body.items():
        if name in ENTITY_MEMBERS:
            continue
        iri = expander.attribute_name(name)
        touched.add(iri)
        if raw == NULL or (isinstance(raw, dict) and raw.get("value") == NULL):
            entity.attrs.pop(iri, None)
            continue
        existing = entity.attrs.get(iri)
        if existing and isinstance(raw, dict):
            dataset = raw.get("datasetId")
            current = next((i for i in existing if i.get("datasetId") == dataset), None)
            if current is not None:
                merged = _merge_fragment(expander, name, current, raw)
                entity.attrs[iri] = [merged if i is current else i for i in existing]
                continue
        instances = expander.instances(name, iri, raw)
        entity.attrs[iri] = store._merge_instances(existing or [], instances)
    new_types: list[str] = []
    if "type" in body:
        new_types = [t for t in expander.types(body["type"]) if t not in entity.types]
        entity.types.extend(new_types)
    if "scope" in body:
        entity.scope = expander.scope(body["scope"])
    store.save(session, ld.tenant, entity, ld.now, new_types=new_types)
    _record(session, ld.tenant, [Change(entity, touched, before=before)], ld)
    return no_content(ld)


def _merge_fragment(expander: Expander, name: str, current: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """A stored instance with a fragment's members put over it, checked as a whole."""
    merged: dict[str, Any] = {k: v for k, v in current.items() if k not in ("createdAt", "modifiedAt")}
    for key, value in fragment.items():
        target = key if key in MEMBERS else expander.attribute_name(key)
        if value == NULL:
            merged.pop(target, None)
        else:
            merged[target] = value
    if "type" in fragment and fragment["type"] != current.get("type"):
        for member in ("value", "object", "languageMap", "valueList", "objectList", "json", "vocab"):
            if member not in fragment:
                merged.pop(member, None)
    instance = expander.instance(name, _compactable(merged), depth=0)
    instance["createdAt"] = current.get("createdAt", instance["createdAt"])
    return instance


def _compactable(instance: dict[str, Any]) -> dict[str, Any]:
    """A stored instance read back as input: its sub-attribute IRIs expand to themselves."""
    out: dict[str, Any] = {}
    for key, value in instance.items():
        if key in ("createdAt", "modifiedAt"):
            continue
        out[key] = _compactable(value) if key not in MEMBERS and isinstance(value, dict) else value
    return out


# ---------------------------------------------------------------------------------------------------- attributes


def _update_result(updated: list[str], not_updated: list[tuple[str, str]]) -> dict[str, Any]:
    return {"updated": updated, "notUpdated": [{"attributeName": n, "reason": r} for n, r in not_updated]}


def _attributes_of(ld: Ld) -> tuple[dict[str, Any], list[str], list[str] | None]:
    body = ld.body
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object of attributes")
    expander = ld.expander
    attrs = expander.attributes({k: v for k, v in body.items() if k not in ENTITY_MEMBERS})
    types = expander.types(body["type"]) if "type" in body else []
    scope = expander.scope(body["scope"]) if "scope" in body else None
    return attrs, types, scope


@router.post("/entities/{entity_id}/attrs", status_code=204, summary="Append Entity Attributes")
def append_attributes(
    entity_id: str, request: Request, principal: Writer, session: DbSession, raw: RawBody
) -> Response:
    ld, entity_id = _on_entity(request, session, raw, entity_id)
    overwrite = "noOverwrite" not in options_of(request, ("noOverwrite",))
    attrs, types, scope = _attributes_of(ld)
    if not attrs and not types and scope is None:
        raise BadRequestData("the body holds no attribute to append")
    change, done, skipped = store.append_attributes(
        session, ld.tenant, entity_id, attrs, ld.now, overwrite=overwrite, types=types, scope=scope
    )
    _record(session, ld.tenant, [change], ld)
    if skipped:
        return plain(_update_result(done, skipped), status=207)
    return no_content(ld)


@router.patch("/entities/{entity_id}/attrs", status_code=204, summary="Update Entity Attributes")
def update_attributes(
    entity_id: str, request: Request, principal: Writer, session: DbSession, raw: RawBody
) -> Response:
    ld, entity_id = _on_entity(request, session, raw, entity_id)
    attrs, _, _ = _attributes_of(ld)
    if not attrs:
        raise BadRequestData("the body holds no attribute to update")
    change, done, skipped = store.update_attributes(session, ld.tenant, entity_id, attrs, ld.now)
    _record(session, ld.tenant, [change], ld)
    if skipped:
        return plain(_update_result(done, skipped), status=207)
    return no_content(ld)


@router.patch("/entities/{entity_id}/attrs/{attr}", status_code=204, summary="Partial Attribute Update")
def partial_update(
    entity_id: str, attr: str, request: Request, principal: Writer, session: DbSession, raw: RawBody
) -> Response:
    ld, entity_id = _on_entity(request, session, raw, entity_id)
    fragment = ld.body
    if not isinstance(fragment, dict) or not fragment:
        raise BadRequestData("the body must be a JSON object of the attribute's members to change")
    fragment = {k: v for k, v in fragment.items() if k != "@context"}
    expander = ld.expander
    iri = expander.attribute_name(attr)
    dataset = fragment.get("datasetId")

    def merge(current: dict[str, Any]) -> dict[str, Any]:
        return _merge_fragment(expander, attr, current, fragment)

    change = store.patch_attribute(session, ld.tenant, entity_id, iri, merge, dataset, ld.now)
    _record(session, ld.tenant, [change], ld)
    return no_content(ld)


@router.put("/entities/{entity_id}/attrs/{attr}", status_code=204, summary="Replace Attribute")
def replace_attribute(
    entity_id: str, attr: str, request: Request, principal: Writer, session: DbSession, raw: RawBody
) -> Response:
    ld, entity_id = _on_entity(request, session, raw, entity_id)
    expander = ld.expander
    iri = expander.attribute_name(attr)
    body = ld.body
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "@context"}
    change = store.replace_attribute(session, ld.tenant, entity_id, iri, expander.instances(attr, iri, body), ld.now)
    _record(session, ld.tenant, [change], ld)
    return no_content(ld)


@router.delete("/entities/{entity_id}/attrs/{attr}", status_code=204, summary="Delete Entity Attribute")
def delete_attribute(entity_id: str, attr: str, request: Request, principal: Writer, session: DbSession) -> Response:
    ld, entity_id = _on_entity(request, session, None, entity_id)
    iri = ld.expander.attribute_name(attr)
    dataset = request.query_params.get("datasetId")
    if dataset is not None and dataset != "@none":
        check_uri(dataset, "datasetId")
    change = store.delete_attribute(
        session,
        ld.tenant,
        entity_id,
        iri,
        ld.now,
        dataset_id=None if dataset in (None, "@none") else dataset,
        delete_all=flag(request, "deleteAll"),
    )
    _record(session, ld.tenant, [change], ld)
    return no_content(ld)


# ---------------------------------------------------------------------------------------------------- batch


def _batch_body(ld: Ld) -> list[Any]:
    body = ld.body
    if not isinstance(body, list):
        raise BadRequestData("the body of a batch operation must be a JSON array")
    if not body:
        raise BadRequestData("the batch is empty")
    most = get_settings().ngsild_max_batch
    if len(body) > most:
        raise BadRequestData(f"the batch holds {len(body)} entities; this broker takes at most {most} at once")
    return body


def _batch_error(entity_id: Any, error: NgsiLdError) -> dict[str, Any]:
    return {"entityId": entity_id if isinstance(entity_id, str) else str(entity_id), "error": error.problem()}


def _each(session: Session, items: list[Any], work: Any) -> tuple[list[str], list[dict[str, Any]], list[Any]]:
    """Run `work(item)` for each item in a savepoint of its own: (ids done, errors, results)."""
    success: list[str] = []
    errors: list[dict[str, Any]] = []
    results: list[Any] = []
    for item in items:
        entity_id = item.get("id") if isinstance(item, dict) else item
        savepoint = session.begin_nested()
        try:
            results.append(work(item))
        except NgsiLdError as error:
            savepoint.rollback()
            errors.append(_batch_error(entity_id, error))
            continue
        savepoint.commit()
        success.append(str(entity_id))
    return success, errors, results


def _batch_answer(success: list[str], errors: list[dict[str, Any]], *, ok_status: int, ok_body: Any = None) -> Response:
    if errors:
        return plain({"success": success, "errors": errors}, status=207)
    if ok_body is not None:
        return plain(ok_body, status=ok_status)
    return Response(status_code=ok_status)


def _batch_context(ld: Ld, item: Any) -> Expander:
    """The expander of one entity of an application/ld+json batch, each of which carries its own @context."""
    if isinstance(item, dict) and "@context" in item and item["@context"] != ld.context:
        terms = contexts.resolver().active(item["@context"])
        return Expander(terms, ld.now)
    return ld.expander


@router.post(BATCH + "/create", summary="Batch Entity Creation")
def batch_create(request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    items = _batch_body(ld)
    checked = []
    refused: dict[int, tuple[Any, NgsiLdError]] = {}
    for position, item in enumerate(items):
        try:
            checked.append((position, _batch_context(ld, item).entity(item)))
        except NgsiLdError as error:
            refused[position] = (item.get("id") if isinstance(item, dict) else item, error)
    changes, existing = store.create_many(session, ld.tenant, [entity for _, entity in checked], ld.now)
    created = {change.entity.entity_id for change in changes if change.entity is not None}
    success: list[str] = []
    for position, entity in checked:  # an id given twice: the first is created, a later one refused
        if entity[0] in created and entity[0] not in success:
            success.append(entity[0])
        else:
            refused[position] = (entity[0], existing[entity[0]])
    errors = [_batch_error(*refused[position]) for position in sorted(refused)]
    _record(session, ld.tenant, changes, ld)
    return _batch_answer(success, errors, ok_status=201, ok_body=success)


@router.post(BATCH + "/upsert", summary="Batch Entity Upsert")
def batch_upsert(request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    options = options_of(request, ("replace", "update"))
    if options == {"replace", "update"}:
        raise BadRequestData("options replace and update exclude each other")
    items = _batch_body(ld)
    changes: list[Change] = []
    created: list[str] = []

    def work(item: Any) -> None:
        entity_id, types, attrs, scope = _batch_context(ld, item).entity(item)
        if store.get(session, ld.tenant, entity_id) is None:
            changes.append(store.create(session, ld.tenant, entity_id, types, attrs, scope, ld.now))
            created.append(entity_id)
        elif "update" in options:
            change, _, _ = store.append_attributes(
                session, ld.tenant, entity_id, attrs, ld.now, types=types, scope=scope
            )
            changes.append(change)
        else:
            changes.append(store.replace_entity(session, ld.tenant, entity_id, types, attrs, scope, ld.now))

    success, errors, _ = _each(session, items, work)
    _record(session, ld.tenant, changes, ld)
    if errors:
        return _batch_answer(success, errors, ok_status=207)
    return plain(created, status=201) if created else Response(status_code=204)


@router.post(BATCH + "/update", summary="Batch Entity Update")
def batch_update(request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    overwrite = "noOverwrite" not in options_of(request, ("noOverwrite",))
    items = _batch_body(ld)
    store.require_tenant(session, ld.tenant)
    changes: list[Change] = []

    def work(item: Any) -> None:
        entity_id, types, attrs, scope = _batch_context(ld, item).entity(item)
        change, _, skipped = store.append_attributes(
            session, ld.tenant, entity_id, attrs, ld.now, overwrite=overwrite, types=types, scope=scope
        )
        if skipped and overwrite:
            raise BadRequestData("; ".join(f"{name}: {reason}" for name, reason in skipped))
        changes.append(change)

    success, errors, _ = _each(session, items, work)
    _record(session, ld.tenant, changes, ld)
    return _batch_answer(success, errors, ok_status=204)


@router.post(BATCH + "/delete", summary="Batch Entity Delete")
def batch_delete(request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    items = _batch_body(ld)
    store.require_tenant(session, ld.tenant)
    changes: list[Change] = []

    def work(item: Any) -> None:
        entity_id = check_uri(item, "each entity id of the batch")
        changes.append(store.delete_entity(session, ld.tenant, entity_id))

    success, errors, _ = _each(session, items, work)
    _record(session, ld.tenant, changes, ld)
    return _batch_answer(success, errors, ok_status=204)


@router.post(BATCH + "/query", summary="Query Entities via POST")
def batch_query(request: Request, principal: Reader, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=ENTITY_REPRESENTATIONS)
    store.require_tenant(session, ld.tenant)
    body = ld.body
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body must be a Query object: {"type": "Query", "entities": [...], "q": ...}')
    params: dict[str, Any] = {k: body.get(k) for k in ("q", "geoQ", "scopeQ", "local")}
    selectors = body.get("entities") or []
    if not isinstance(selectors, list):
        raise BadRequestData("entities must be a list of {type, id, idPattern}")
    attrs = body.get("attrs")
    if attrs is not None and not (isinstance(attrs, list) and all(isinstance(a, str) for a in attrs)):
        raise BadRequestData("attrs must be a list of attribute names")
    shape = shape_of(request, ld)
    if attrs:
        shape = Shape(shape.form, shape.sys_attrs, frozenset(ld.expander.attribute_name(a) for a in attrs), shape.lang)
    limit, offset, count = _page(request)
    queries = []
    for selector in selectors or [{}]:
        if not isinstance(selector, dict):
            raise BadRequestData("each entities selector must be an object with type, id or idPattern")
        merged = dict(
            params, attrs=attrs, type=selector.get("type"), id=selector.get("id"), idPattern=selector.get("idPattern")
        )
        queries.append(query_of(request, ld, merged))
    found: dict[int, Stored] = {}
    for query in queries:
        page, _ = store.run_query(session, ld.tenant, query, offset=0, limit=offset + limit, count=False)
        for entity in page:
            found.setdefault(entity.pk, entity)
    ordered = [found[pk] for pk in sorted(found)]
    total = len(ordered) if count else None
    headers = {COUNT_HEADER: str(total)} if total is not None else {}
    rendered = [_render(ld, e, shape) for e in ordered[offset : offset + limit]]
    return _answer_entities(ld, request, rendered, headers, single=False)


# ---------------------------------------------------------------------------------------------------- types, attributes


@router.get("/types", summary="Retrieve Available Entity Types")
def entity_types(request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session)
    store.require_tenant(session, ld.tenant)
    types = store.entity_types(session, ld.tenant)
    if flag(request, "details"):
        summary = store.attribute_summary(session, ld.tenant)
        body: Any = [
            {
                "id": iri,
                "type": "EntityType",
                "typeName": ld.terms.compact(iri),
                "attributeNames": sorted(ld.terms.compact(a.name) for a in summary.values() if iri in a.type_names),
            }
            for iri, _ in types
        ]
    else:
        body = {
            "id": f"urn:ngsi-ld:EntityTypeList:{_digest(ld.tenant, [t for t, _ in types])}",
            "type": "EntityTypeList",
            "typeList": [ld.terms.compact(iri) for iri, _ in types],
        }
    return respond(ld, body, each=True)


def _digest(*parts: Any) -> str:
    import hashlib

    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


@router.get("/types/{type_name:path}", summary="Retrieve Entity Type Information")
def entity_type(type_name: str, request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session)
    store.require_tenant(session, ld.tenant)
    iri = ld.expander.type_name(type_name)
    count = dict(store.entity_types(session, ld.tenant)).get(iri)
    if not count:
        raise ResourceNotFound(f"no entity has the type {type_name}")
    summary = store.attribute_summary(session, ld.tenant, iri)
    body = {
        "id": iri,
        "type": "EntityTypeInfo",
        "typeName": ld.terms.compact(iri),
        "entityCount": count,
        "attributeDetails": [
            {
                "id": a.name,
                "type": "Attribute",
                "attributeName": ld.terms.compact(a.name),
                "attributeTypes": sorted(a.attribute_types),
            }
            for a in summary.values()
        ],
    }
    return respond(ld, body)


def _attribute(ld: Ld, summary: store.AttributeSummary) -> dict[str, Any]:
    return {
        "id": summary.name,
        "type": "Attribute",
        "attributeName": ld.terms.compact(summary.name),
        "attributeCount": summary.count,
        "attributeTypes": sorted(summary.attribute_types),
        "typeNames": sorted(ld.terms.compact(t) for t in summary.type_names),
    }


@router.get("/attributes", summary="Retrieve Available Attributes")
def attributes(request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session)
    store.require_tenant(session, ld.tenant)
    summary = store.attribute_summary(session, ld.tenant)
    if flag(request, "details"):
        body: Any = [_attribute(ld, s) for s in summary.values()]
    else:
        body = {
            "id": f"urn:ngsi-ld:AttributeList:{_digest(ld.tenant, list(summary))}",
            "type": "AttributeList",
            "attributeList": [ld.terms.compact(name) for name in summary],
        }
    return respond(ld, body)


@router.get("/attributes/{attr:path}", summary="Retrieve Attribute Information")
def attribute(attr: str, request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session)
    store.require_tenant(session, ld.tenant)
    iri = ld.expander.attribute_name(attr)
    summary = store.attribute_summary(session, ld.tenant).get(iri)
    if summary is None:
        raise ResourceNotFound(f"no entity has the attribute {attr}")
    return respond(ld, _attribute(ld, summary))


# ---------------------------------------------------------------------------------------------------- @contexts


@router.post("/jsonldContexts", status_code=201, summary="Add @context")
def add_context(request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    body = read_body(request, raw)
    context_id = contexts.add_hosted(session, body)
    return Response(status_code=201, headers={"Location": f"{PREFIX}/jsonldContexts/{context_id}"})


@router.get("/jsonldContexts", summary="List @contexts")
def list_contexts(request: Request, principal: Reader, session: DbSession) -> Response:
    found = contexts.listing(session, request.query_params.get("kind"))
    if flag(request, "details"):
        return plain(
            [
                {
                    k: (v.isoformat().replace("+00:00", "Z") if hasattr(v, "isoformat") else v)
                    for k, v in item.items()
                    if v is not None
                }
                for item in found
            ]
        )
    return plain([item["URL"] for item in found])


@router.get("/jsonldContexts/{context_id}", summary="Serve @context")
def serve_context(context_id: str, request: Request, principal: Reader, session: DbSession) -> Response:
    body = contexts.serve(session, context_id, flag(request, "details"))
    body = {k: (v.isoformat().replace("+00:00", "Z") if hasattr(v, "isoformat") else v) for k, v in body.items()}
    return Response(_dumps(body), media_type=JSON_LD if "@context" in body else JSON)


@router.delete("/jsonldContexts/{context_id}", status_code=204, summary="Delete and Reload @context")
def delete_context(context_id: str, request: Request, principal: Writer, session: DbSession) -> Response:
    contexts.remove(session, context_id, flag(request, "reload"))
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------------- subscriptions


@router.post("/subscriptions", status_code=201, summary="Create Subscription")
def create_subscription(request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    body = ld.body
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "@context"}
    sub_id = subscriptions.create(session, ld, body)
    return no_content(ld, status=201, headers={"Location": f"{PREFIX}/subscriptions/{sub_id}"})


@router.get("/subscriptions", summary="Query Subscriptions")
def list_subscriptions(request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session)
    store.require_tenant(session, ld.tenant)
    limit, offset, count = _page(request)
    found, total = subscriptions.listing(session, ld, offset, limit, "sysAttrs" in options_of(request, ("sysAttrs",)))
    headers = {COUNT_HEADER: str(total)} if count else {}
    return respond(ld, found, headers=headers)


@router.get("/subscriptions/{sub_id}", summary="Retrieve Subscription")
def retrieve_subscription(sub_id: str, request: Request, principal: Reader, session: DbSession) -> Response:
    ld = begin(request, session)
    store.require_tenant(session, ld.tenant)
    check_uri(sub_id, "the subscription id in the path")
    return respond(ld, subscriptions.retrieve(session, ld, sub_id, "sysAttrs" in options_of(request, ("sysAttrs",))))


@router.patch("/subscriptions/{sub_id}", status_code=204, summary="Update Subscription")
def update_subscription(sub_id: str, request: Request, principal: Writer, session: DbSession, raw: RawBody) -> Response:
    ld = begin(request, session, raw, offered=(JSON, JSON_LD, "*/*"))
    store.require_tenant(session, ld.tenant)
    check_uri(sub_id, "the subscription id in the path")
    body = ld.body
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "@context"}
    subscriptions.change(session, ld, sub_id, body)
    return no_content(ld)


@router.delete("/subscriptions/{sub_id}", status_code=204, summary="Delete Subscription")
def delete_subscription(sub_id: str, request: Request, principal: Writer, session: DbSession) -> Response:
    ld = begin(request, session, offered=(JSON, JSON_LD, "*/*"))
    store.require_tenant(session, ld.tenant)
    check_uri(sub_id, "the subscription id in the path")
    subscriptions.remove(session, ld, sub_id)
    return no_content(ld)
