"""The entity store: tenants, entities and their attributes in the expanded stored form, and the queries over them.

Every function takes the request's session and changes nothing it has not checked: a refused operation raises
before it writes, and batch operations give each entity a savepoint of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, select, update
from sqlalchemy.orm import Session

from smartcity.ngsild.entity import LOCATION, Instances, bbox, carry_created
from smartcity.ngsild.errors import AlreadyExists, BadRequestData, NonexistentTenant, ResourceNotFound
from smartcity.ngsild.geoquery import GeoQuery
from smartcity.ngsild.models import Entity, EntityType, Tenant
from smartcity.ngsild.query import Node, TypeNode, evaluate, plain_types, type_matches

DEFAULT_TENANT = ""
_TENANT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
E, T = Entity.__table__, EntityType.__table__
_COLUMNS = (E.c.pk, E.c.entity_id, E.c.types, E.c.attrs, E.c.scope, E.c.created_at, E.c.modified_at)


@dataclass
class Stored:
    """An entity as stored: attributes under expanded names, each a list of instances."""

    pk: int
    entity_id: str
    types: list[str]
    attrs: dict[str, Instances]
    scope: list[str] | None
    created_at: dt.datetime
    modified_at: dt.datetime


@dataclass
class Change:
    """What one operation did to one entity, for subscriptions: the entity after, and the attributes touched."""

    entity: Stored | None
    attributes: set[str] = field(default_factory=set)
    trigger: str = "entityUpdated"  # entityCreated / entityUpdated / entityDeleted
    before: Stored | None = None


def check_tenant_name(name: str | None) -> str:
    """The tenant named by the NGSILD-Tenant header ('' is the default tenant)."""
    if name is None or name == "":
        return DEFAULT_TENANT
    if not _TENANT.match(name):
        raise BadRequestData(f"the tenant '{name}' is not valid: use 1 to 64 letters, digits, '_' or '-'")
    return name


def require_tenant(session: Session, tenant: str) -> None:
    """Refuse an operation on a tenant that no entity, subscription or registration created."""
    if tenant == DEFAULT_TENANT:
        return
    found = session.connection().execute(select(Tenant.name).where(Tenant.name == tenant)).first()
    if found is None:
        raise NonexistentTenant(f"there is no tenant '{tenant}'")


def ensure_tenant(session: Session, tenant: str, now: dt.datetime) -> None:
    """Create the tenant on its first creation operation (clause 5.5.10)."""
    if tenant == DEFAULT_TENANT:
        return
    connection = session.connection()
    if connection.execute(select(Tenant.name).where(Tenant.name == tenant)).first() is None:
        connection.execute(insert(Tenant).values(name=tenant, created_at=now))


def list_tenants(session: Session) -> list[str]:
    return list(session.connection().execute(select(Tenant.name).order_by(Tenant.name)).scalars())


def _bounds(attrs: dict[str, Instances]) -> dict[str, float | None]:
    instances = attrs.get(LOCATION)
    if instances:
        chosen = next((i for i in instances if "datasetId" not in i), instances[0])
        west, south, east, north = bbox(chosen["value"])
        return {"west": west, "south": south, "east": east, "north": north}
    return {"west": None, "south": None, "east": None, "north": None}


def _stored(row: Any) -> Stored:
    return Stored(row.pk, row.entity_id, list(row.types), dict(row.attrs), row.scope, row.created_at, row.modified_at)


def get(session: Session, tenant: str, entity_id: str, *, for_update: bool = False) -> Stored | None:
    statement = select(*_COLUMNS).where(E.c.tenant == tenant, E.c.entity_id == entity_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    row = session.connection().execute(statement).first()
    return _stored(row) if row is not None else None


def require(session: Session, tenant: str, entity_id: str, *, for_update: bool = False) -> Stored:
    found = get(session, tenant, entity_id, for_update=for_update)
    if found is None:
        raise ResourceNotFound(f"there is no entity {entity_id}" + (f" in the tenant '{tenant}'" if tenant else ""))
    return found


def create(
    session: Session,
    tenant: str,
    entity_id: str,
    types: list[str],
    attrs: dict[str, Instances],
    scope: list[str] | None,
    now: dt.datetime,
) -> Change:
    connection = session.connection()
    if get(session, tenant, entity_id) is not None:
        raise AlreadyExists(f"the entity {entity_id} already exists")
    ensure_tenant(session, tenant, now)
    pk = connection.execute(
        insert(Entity)
        .values(
            tenant=tenant,
            entity_id=entity_id,
            types=types,
            attrs=attrs,
            scope=scope,
            created_at=now,
            modified_at=now,
            **_bounds(attrs),
        )
        .returning(E.c.pk)
    ).scalar_one()
    connection.execute(insert(EntityType), [{"entity_pk": pk, "type": t, "tenant": tenant} for t in types])
    entity = Stored(pk, entity_id, types, attrs, scope, now, now)
    return Change(entity, set(attrs), "entityCreated")


def create_many(
    session: Session,
    tenant: str,
    entities: list[tuple[str, list[str], dict[str, Instances], list[str] | None]],
    now: dt.datetime,
) -> tuple[list[Change], dict[str, AlreadyExists]]:
    """Create checked entities in a few statements (Batch Entity Creation): the changes of those created, and the
    refusal of each id that exists already or came earlier in the batch."""
    refused: dict[str, AlreadyExists] = {}
    seen: set[str] = set()
    fresh = []
    for entity in entities:
        if entity[0] in seen:
            refused[entity[0]] = AlreadyExists(f"the entity {entity[0]} is given twice in the batch")
            continue
        seen.add(entity[0])
        fresh.append(entity)
    connection = session.connection()
    ids = [e[0] for e in fresh]
    existing: set[str] = set()
    for first in range(0, len(ids), 500):
        chunk = ids[first : first + 500]
        existing.update(
            connection.execute(select(E.c.entity_id).where(E.c.tenant == tenant, E.c.entity_id.in_(chunk))).scalars()
        )
    for entity_id in existing:
        refused[entity_id] = AlreadyExists(f"the entity {entity_id} already exists")
    fresh = [e for e in fresh if e[0] not in existing]
    if not fresh:
        return [], refused
    ensure_tenant(session, tenant, now)
    rows = [
        {"tenant": tenant, "entity_id": entity_id, "types": types, "attrs": attrs, "scope": scope,
         "created_at": now, "modified_at": now, **_bounds(attrs)}
        for entity_id, types, attrs, scope in fresh
    ]  # fmt: skip
    keys: dict[str, int] = {}
    for first in range(0, len(rows), 200):
        returned = connection.execute(insert(Entity).values(rows[first : first + 200]).returning(E.c.pk, E.c.entity_id))
        keys.update({row.entity_id: row.pk for row in returned})
    connection.execute(
        insert(EntityType),
        [
            {"entity_pk": keys[entity_id], "type": t, "tenant": tenant}
            for entity_id, types, _, _ in fresh
            for t in types
        ],
    )
    changes = [
        Change(Stored(keys[entity_id], entity_id, types, attrs, scope, now, now), set(attrs), "entityCreated")
        for entity_id, types, attrs, scope in fresh
    ]
    return changes, refused


def save(session: Session, tenant: str, entity: Stored, now: dt.datetime, *, new_types: Sequence[str] = ()) -> None:
    """Write back an entity changed in memory."""
    entity.modified_at = now
    session.connection().execute(
        update(Entity)
        .where(E.c.pk == entity.pk)
        .values(attrs=entity.attrs, types=entity.types, scope=entity.scope, modified_at=now, **_bounds(entity.attrs))
    )
    if new_types:
        session.connection().execute(
            insert(EntityType), [{"entity_pk": entity.pk, "type": t, "tenant": tenant} for t in new_types]
        )


def delete_entity(session: Session, tenant: str, entity_id: str) -> Change:
    entity = require(session, tenant, entity_id)
    connection = session.connection()
    connection.execute(delete(EntityType).where(T.c.entity_pk == entity.pk))
    connection.execute(delete(Entity).where(E.c.pk == entity.pk))
    return Change(None, set(entity.attrs), "entityDeleted", before=entity)


def _merge_instances(old: Instances, new: Instances) -> Instances:
    """`old` with each instance of `new` put in place of the one of the same datasetId (or added)."""
    by_dataset = {i.get("datasetId"): i for i in old}
    for instance in carry_created(old, new):
        by_dataset[instance.get("datasetId")] = instance
    return list(by_dataset.values())


def append_attributes(
    session: Session,
    tenant: str,
    entity_id: str,
    attrs: dict[str, Instances],
    now: dt.datetime,
    *,
    overwrite: bool = True,
    types: Sequence[str] = (),
    scope: list[str] | None = None,
) -> tuple[Change, list[str], list[tuple[str, str]]]:
    """Append Entity Attributes (clause 5.6.3): add new attributes, replace existing ones unless not `overwrite`.

    Returns the change, the attributes appended and (attribute, reason) of those left alone."""
    entity = require(session, tenant, entity_id, for_update=True)
    before = _copy(entity)
    done: list[str] = []
    skipped: list[tuple[str, str]] = []
    for iri, instances in attrs.items():
        existing = entity.attrs.get(iri, [])
        datasets = {i.get("datasetId") for i in existing}
        if existing and not overwrite and all(i.get("datasetId") in datasets for i in instances):
            skipped.append((iri, "the attribute exists and noOverwrite was asked"))
            continue
        if not overwrite:
            instances = [i for i in instances if i.get("datasetId") not in datasets]
        entity.attrs[iri] = _merge_instances(existing, instances)
        done.append(iri)
    added = [t for t in types if t not in entity.types]
    entity.types.extend(added)
    if scope is not None:
        entity.scope = scope
    if done or added or scope is not None:
        save(session, tenant, entity, now, new_types=added)
    return Change(entity, set(done), before=before), done, skipped


def update_attributes(
    session: Session, tenant: str, entity_id: str, attrs: dict[str, Instances], now: dt.datetime
) -> tuple[Change, list[str], list[tuple[str, str]]]:
    """Update Entity Attributes (clause 5.6.2): only attributes (and datasetIds) the entity has are replaced."""
    entity = require(session, tenant, entity_id, for_update=True)
    before = _copy(entity)
    done: list[str] = []
    skipped: list[tuple[str, str]] = []
    for iri, instances in attrs.items():
        existing = entity.attrs.get(iri)
        if not existing:
            skipped.append((iri, "the entity has no such attribute"))
            continue
        datasets = {i.get("datasetId") for i in existing}
        missing = [i.get("datasetId") for i in instances if i.get("datasetId") not in datasets]
        if missing:
            skipped.append((iri, f"the attribute has no instance with datasetId {missing[0] or '(default)'}"))
            continue
        entity.attrs[iri] = _merge_instances(existing, instances)
        done.append(iri)
    if done:
        save(session, tenant, entity, now)
    return Change(entity, set(done), before=before), done, skipped


def replace_entity(
    session: Session,
    tenant: str,
    entity_id: str,
    types: list[str],
    attrs: dict[str, Instances],
    scope: list[str] | None,
    now: dt.datetime,
) -> Change:
    """Replace Entity (clause 5.6.18): the entity keeps its id and creation time, everything else is the new one."""
    entity = require(session, tenant, entity_id, for_update=True)
    before = _copy(entity)
    for iri, instances in attrs.items():
        carry_created(entity.attrs.get(iri, []), instances)
    touched = set(entity.attrs) | set(attrs)
    old_types = set(entity.types)
    entity.attrs, entity.types, entity.scope = attrs, types, scope
    session.connection().execute(delete(EntityType).where(T.c.entity_pk == entity.pk))
    save(session, tenant, entity, now, new_types=types)
    del old_types
    return Change(entity, touched, before=before)


def replace_attribute(
    session: Session, tenant: str, entity_id: str, iri: str, instances: Instances, now: dt.datetime
) -> Change:
    entity = require(session, tenant, entity_id, for_update=True)
    if iri not in entity.attrs:
        raise ResourceNotFound(f"the entity {entity_id} has no attribute {iri}")
    before = _copy(entity)
    entity.attrs[iri] = _merge_instances(entity.attrs[iri], instances)
    save(session, tenant, entity, now)
    return Change(entity, {iri}, before=before)


def patch_attribute(
    session: Session,
    tenant: str,
    entity_id: str,
    iri: str,
    merge: Callable[[dict[str, Any]], dict[str, Any]],
    dataset_id: str | None,
    now: dt.datetime,
) -> Change:
    """Partial Attribute Update (clause 5.6.4): `merge` turns the stored instance into the new one."""
    entity = require(session, tenant, entity_id, for_update=True)
    instances = entity.attrs.get(iri)
    if not instances:
        raise ResourceNotFound(f"the entity {entity_id} has no attribute {iri}")
    target = next((i for i in instances if i.get("datasetId") == dataset_id), None)
    if target is None:
        raise ResourceNotFound(f"the attribute {iri} has no instance with datasetId {dataset_id or '(default)'}")
    before = _copy(entity)
    merged = merge(target)
    merged["createdAt"] = target.get("createdAt", merged.get("createdAt"))
    entity.attrs[iri] = [merged if i is target else i for i in instances]
    save(session, tenant, entity, now)
    return Change(entity, {iri}, before=before)


def delete_attribute(
    session: Session,
    tenant: str,
    entity_id: str,
    iri: str,
    now: dt.datetime,
    *,
    dataset_id: str | None = None,
    delete_all: bool = False,
) -> Change:
    entity = require(session, tenant, entity_id, for_update=True)
    instances = entity.attrs.get(iri)
    if not instances:
        raise ResourceNotFound(f"the entity {entity_id} has no attribute {iri}")
    before = _copy(entity)
    if delete_all:
        kept: Instances = []
    else:
        kept = [i for i in instances if i.get("datasetId") != dataset_id]
        if len(kept) == len(instances):
            raise ResourceNotFound(f"the attribute {iri} has no instance with datasetId {dataset_id or '(default)'}")
    if kept:
        entity.attrs[iri] = kept
    else:
        del entity.attrs[iri]
    save(session, tenant, entity, now)
    return Change(entity, {iri}, before=before)


def _copy(entity: Stored) -> Stored:
    return Stored(
        entity.pk,
        entity.entity_id,
        list(entity.types),
        dict(entity.attrs),
        entity.scope,
        entity.created_at,
        entity.modified_at,
    )


@dataclass
class Query:
    """What a query asks for: every part optional, all parts must hold."""

    types: TypeNode | None = None
    ids: list[str] | None = None
    id_pattern: re.Pattern[str] | None = None
    attrs: frozenset[str] | None = None  # entities with at least one of these attributes
    q: Node | None = None
    geo: GeoQuery | None = None
    scope: re.Pattern[str] | None = None

    @property
    def in_sql(self) -> bool:
        """Whether SQL alone selects the entities (then SQL pages and counts them)."""
        typed = self.types is None or plain_types(self.types) is not None
        return (
            typed
            and self.id_pattern is None
            and self.attrs is None
            and self.q is None
            and self.geo is None
            and self.scope is None
        )

    def matches(self, entity: Stored) -> bool:
        if self.types is not None and not type_matches(self.types, entity.types):
            return False
        if self.ids is not None and entity.entity_id not in self.ids:
            return False
        if self.id_pattern is not None and not self.id_pattern.search(entity.entity_id):
            return False
        if self.attrs is not None and not any(a in entity.attrs for a in self.attrs):
            return False
        if self.q is not None and not evaluate(self.q, entity.attrs):
            return False
        if self.scope is not None and not any(self.scope.match(s) for s in entity.scope or ()):
            return False
        if self.geo is not None:
            instances = entity.attrs.get(self.geo.geoproperty)
            if not instances:
                return False
            if not any(self.geo.matches(i["value"]) for i in instances if i.get("type") == "GeoProperty"):
                return False
        return True


def _selection(tenant: str, query: Query) -> Select[Any]:
    statement = select(*_COLUMNS).where(E.c.tenant == tenant)
    if query.types is not None:
        names = plain_types(query.types)
        candidates = names if names is not None else _all_type_names(query.types)
        statement = statement.where(
            E.c.pk.in_(select(T.c.entity_pk).where(T.c.tenant == tenant, T.c.type.in_(candidates)))
        )
    if query.ids is not None:
        statement = statement.where(E.c.entity_id.in_(query.ids))
    if query.geo is not None and query.geo.geoproperty == LOCATION:
        window = query.geo.window()
        if window is not None:
            west, south, east, north = window
            statement = statement.where(
                and_(E.c.west <= east, E.c.east >= west, E.c.south <= north, E.c.north >= south)
            )
    return statement


def _all_type_names(node: TypeNode) -> list[str]:
    if isinstance(node, str):
        return [node]
    return [name for part in node[1] for name in _all_type_names(part)]


CHUNK = 500


def run_query(
    session: Session, tenant: str, query: Query, *, offset: int, limit: int, count: bool
) -> tuple[list[Stored], int | None]:
    """The page [offset, offset+limit) of the entities the query selects, in creation order, and their number."""
    connection = session.connection()
    statement = _selection(tenant, query)
    if query.in_sql:
        rows = connection.execute(statement.order_by(E.c.pk).offset(offset).limit(limit)).all() if limit else []
        total = None
        if count:
            total = connection.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
        return [_stored(r) for r in rows], total
    page: list[Stored] = []
    seen = 0
    for entity in _scan(session, statement):
        if not query.matches(entity):
            continue
        if offset <= seen < offset + limit:
            page.append(entity)
        seen += 1
        if not count and seen >= offset + limit:
            break
    return page, (seen if count else None)


def _scan(session: Session, statement: Select[Any]) -> Iterator[Stored]:
    last = 0
    connection = session.connection()
    while True:
        rows = connection.execute(statement.where(E.c.pk > last).order_by(E.c.pk).limit(CHUNK)).all()
        for row in rows:
            yield _stored(row)
        if len(rows) < CHUNK:
            return
        last = rows[-1].pk


def entity_types(session: Session, tenant: str) -> list[tuple[str, int]]:
    """Every entity type of the tenant and how many entities have it."""
    rows = session.connection().execute(
        select(T.c.type, func.count()).where(T.c.tenant == tenant).group_by(T.c.type).order_by(T.c.type)
    )
    return [(r[0], int(r[1])) for r in rows]


@dataclass
class AttributeSummary:
    name: str
    count: int = 0
    attribute_types: set[str] = field(default_factory=set)
    type_names: set[str] = field(default_factory=set)


def attribute_summary(session: Session, tenant: str, type_iri: str | None = None) -> dict[str, AttributeSummary]:
    """Every attribute of the tenant's entities (of one type): how many entities have it, its kinds, the types."""
    statement = select(E.c.types, E.c.attrs).where(E.c.tenant == tenant)
    if type_iri is not None:
        statement = statement.where(E.c.pk.in_(select(T.c.entity_pk).where(T.c.tenant == tenant, T.c.type == type_iri)))
    found: dict[str, AttributeSummary] = {}
    for types, attrs in session.connection().execute(statement):
        for iri, instances in attrs.items():
            summary = found.setdefault(iri, AttributeSummary(iri))
            summary.count += 1
            summary.attribute_types.update(i.get("type", "Property") for i in instances)
            summary.type_names.update(types)
    return dict(sorted(found.items()))
