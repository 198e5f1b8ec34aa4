"""@context documents the broker holds (clause 5.13, /jsonldContexts): Hosted ones clients register, Cached copies of
public contexts an operator loads (from the preload map file or `smartcity ngsild context load`), and
ImplicitlyCreated ones made from a request's inline @context so JSON responses can point at it."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.ngsild.errors import BadRequestData, OperationNotSupported, ResourceNotFound
from smartcity.ngsild.ldcontext import CORE_CONTEXT_URL, ContextResolver, core_document, load_context_map
from smartcity.ngsild.models import LdContext

HOSTED, CACHED, IMPLICIT = "Hosted", "Cached", "ImplicitlyCreated"
KINDS = (HOSTED, CACHED, IMPLICIT)
PATH = "/ngsi-ld/v1/jsonldContexts/"
C = LdContext.__table__


@lru_cache(maxsize=1)
def resolver() -> ContextResolver:
    """The process's context resolver, with the operator's preload map (SMARTCITY_NGSILD_CONTEXT_MAP)."""
    path = get_settings().ngsild_context_map
    return ContextResolver(load_context_map(Path(path)) if path else {})


def hosted_url(context_id: str) -> str:
    return get_settings().public_url.rstrip("/") + PATH + context_id


def _local_id(url: str) -> str | None:
    """The id of a context this broker serves, from any URL whose path is /ngsi-ld/v1/jsonldContexts/{id}."""
    path = urlsplit(url).path
    if path.startswith(PATH) and len(path) > len(PATH):
        return path[len(PATH) :]
    return None


def loader(session: Session) -> Callable[[str], dict[str, Any] | None]:
    """Looks a context URL up among those stored (Hosted and Implicit by their path, Cached by their URL)."""

    def lookup(url: str) -> dict[str, Any] | None:
        connection = session.connection()
        local = _local_id(url)
        statement = (
            select(C.c.body).where(C.c.id == local) if local is not None else select(C.c.body).where(C.c.url == url)
        )
        row = connection.execute(statement).first()
        return dict(row[0]) if row is not None else None

    return lookup


def _check_document(session: Session, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or "@context" not in body:
        raise BadRequestData("a context document is a JSON object with a top-level @context member")
    context = body["@context"]
    if not isinstance(context, dict | list | str):
        raise BadRequestData("@context must be an object, a URL or a list of them")
    document = {"@context": context}
    # the document must be usable: its terms are processed now (URLs it names must be held here too)
    resolver().active(context if not isinstance(context, str) else [context], loader(session))
    return document


def add_hosted(session: Session, body: Any) -> str:
    """Store a client's context (kind Hosted); its id."""
    document = _check_document(session, body)
    context_id = uuid.uuid4().hex
    session.connection().execute(
        insert(LdContext).values(id=context_id, url=None, kind=HOSTED, body=document, created_at=utcnow(), uses=0)
    )
    return context_id


def load_cached(session: Session, url: str, document: Any) -> str:
    """Store (or replace) the local copy of a public context URL (kind Cached); its id."""
    if not url.startswith(("http://", "https://")):
        raise BadRequestData(f"'{url}' is not an http(s) URL")
    checked = _check_document(session, document)
    connection = session.connection()
    row = connection.execute(select(C.c.id).where(C.c.url == url)).first()
    if row is not None:
        connection.execute(update(LdContext).where(C.c.id == row[0]).values(body=checked, created_at=utcnow()))
        resolver().forget(url)
        return str(row[0])
    context_id = uuid.uuid4().hex
    connection.execute(
        insert(LdContext).values(id=context_id, url=url, kind=CACHED, body=checked, created_at=utcnow(), uses=0)
    )
    return context_id


_IMPLICIT_KNOWN: set[str] = set()


def implicit_id(context: Any) -> str:
    return hashlib.sha256(json.dumps(context, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def implicit_url(context: Any) -> str:
    return hosted_url(implicit_id(context))


def register_implicit(session: Session, context: Any) -> None:
    """Keep a request's inline @context (kind ImplicitlyCreated) so a JSON response's Link header can name it."""
    context_id = implicit_id(context)
    if context_id in _IMPLICIT_KNOWN:
        return
    connection = session.connection()
    if connection.execute(select(C.c.id).where(C.c.id == context_id)).first() is None:
        connection.execute(
            insert(LdContext).values(
                id=context_id, url=None, kind=IMPLICIT, body={"@context": context}, created_at=utcnow(), uses=0
            )
        )
    _IMPLICIT_KNOWN.add(context_id)


def listing(session: Session, kind: str | None) -> list[dict[str, Any]]:
    if kind is not None and kind not in KINDS:
        raise BadRequestData(f"kind '{kind}' is not one of {', '.join(KINDS)}")
    statement = select(C.c.id, C.c.url, C.c.kind, C.c.created_at, C.c.uses).order_by(C.c.created_at, C.c.id)
    if kind is not None:
        statement = statement.where(C.c.kind == kind)
    found = [
        {
            "URL": row.url or hosted_url(row.id),
            "localId": f"urn:ngsi-ld:jsonldContext:{row.id}",
            "kind": row.kind,
            "createdAt": row.created_at,
        }
        for row in session.connection().execute(statement)
    ]
    if kind in (None, CACHED):
        for url in sorted(resolver().preloaded):
            found.append(
                {"URL": url, "localId": "urn:ngsi-ld:jsonldContext:preloaded", "kind": CACHED, "createdAt": None}
            )
    if kind in (None, HOSTED):
        found.insert(
            0, {"URL": CORE_CONTEXT_URL, "localId": "urn:ngsi-ld:jsonldContext:core", "kind": HOSTED, "createdAt": None}
        )
    return found


def _row(session: Session, context_id: str) -> Any:
    plain = context_id.removeprefix("urn:ngsi-ld:jsonldContext:")
    row = session.connection().execute(select(C).where(C.c.id == plain)).first()
    if row is None:
        raise ResourceNotFound(f"there is no @context {context_id} here")
    return row


def serve(session: Session, context_id: str, details: bool) -> dict[str, Any]:
    if context_id in ("core", "urn:ngsi-ld:jsonldContext:core"):
        return (
            core_document()
            if not details
            else {"URL": CORE_CONTEXT_URL, "localId": "urn:ngsi-ld:jsonldContext:core", "kind": HOSTED}
        )
    row = _row(session, context_id)
    if details:
        return {
            "URL": row.url or hosted_url(row.id),
            "localId": f"urn:ngsi-ld:jsonldContext:{row.id}",
            "kind": row.kind,
            "createdAt": row.created_at,
            "numberOfHits": row.uses,
        }
    if row.kind == CACHED:
        raise OperationNotSupported(
            f"the @context {context_id} is a cached copy of {row.url}; ask for details=true or fetch that URL"
        )
    return dict(row.body)


def remove(session: Session, context_id: str, reload: bool) -> None:
    if context_id in ("core", "urn:ngsi-ld:jsonldContext:core"):
        raise BadRequestData("the core @context is built in and cannot be deleted")
    row = _row(session, context_id)
    if reload:
        raise BadRequestData(
            "reload=true asks to download the context again; this broker never downloads contexts: load a new copy "
            "with `smartcity ngsild context load`"
            if row.kind == CACHED
            else "reload=true applies to Cached contexts only"
        )
    session.connection().execute(delete(LdContext).where(C.c.id == row.id))
    resolver().forget(row.url or hosted_url(row.id))
    _IMPLICIT_KNOWN.discard(row.id)
