"""The HTTP binding's common ground (GS CIM 009 clause 6.3): the tenant, the @context of a request, its body, the
representation the client accepts, and responses with the Link header or an in-body @context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from smartcity.db import utcnow
from smartcity.ngsild import contexts
from smartcity.ngsild.entity import Expander, Shape
from smartcity.ngsild.errors import BadRequestData, InvalidRequest, NgsiLdError
from smartcity.ngsild.ldcontext import CORE_CONTEXT_URL, TermMap, context_from_link, link_header
from smartcity.ngsild.store import check_tenant_name

JSON, JSON_LD, GEO_JSON, MERGE_PATCH = (
    "application/json",
    "application/ld+json",
    "application/geo+json",
    "application/merge-patch+json",
)
TENANT_HEADER = "NGSILD-Tenant"
COUNT_HEADER = "NGSILD-Results-Count"


class UnsupportedMediaType(NgsiLdError):
    """415: the body is neither application/json nor application/ld+json (clause 6.3.4); sent without a body."""

    status = 415
    name = "InvalidRequest"
    title = "Unsupported media type"


class NotAcceptable(NgsiLdError):
    """406: the client accepts none of the representations the operation offers."""

    status = 406
    name = "InvalidRequest"
    title = "Not acceptable"


@dataclass
class Ld:
    """One NGSI-LD request: its tenant, active context, the @context to echo, and the media type to answer in."""

    tenant: str
    terms: TermMap
    context: Any  # the @context the client used (a URL, an object or a list), echoed in responses
    accept: str
    now: dt.datetime
    body: Any = None

    @property
    def expander(self) -> Expander:
        return Expander(self.terms, self.now)

    def context_url(self) -> str:
        """The URL for the response's Link header: the client's context URL, or the core context."""
        if isinstance(self.context, str):
            return self.context
        if isinstance(self.context, list) and len(self.context) == 1 and isinstance(self.context[0], str):
            return str(self.context[0])
        return contexts.implicit_url(self.context) if self.context is not None else CORE_CONTEXT_URL

    def body_context(self) -> Any:
        return self.context if self.context is not None else CORE_CONTEXT_URL


def _media(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def choose_accept(request: Request, offered: tuple[str, ...]) -> str:
    """The representation to answer in (clause 6.3.4): application/json unless the Accept header prefers another."""
    header = request.headers.get("accept")
    if not header or "*/*" in offered:
        return JSON
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        weight = 1.0
        for piece in pieces[1:]:
            if piece.startswith("q="):
                try:
                    weight = float(piece[2:])
                except ValueError:
                    weight = 0.0
        if weight <= 0:
            continue
        if media in ("*/*", "application/*"):
            candidates = [offered[0]]
        elif media in offered:
            candidates = [media]
        else:
            continue
        for candidate in candidates:
            rank = (weight, -offered.index(candidate), candidate)
            if best is None or rank[:2] > best[:2]:
                best = rank
        del position
    if best is None:
        raise NotAcceptable(f"this operation answers in {', '.join(offered)}; the Accept header asks for none of them")
    return best[2]


async def raw_body(request: Request) -> bytes:
    """The request body as sent (the general body limit applies)."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def read_body(request: Request, raw: bytes) -> Any:
    """The request's JSON body; the content type checked (415 otherwise)."""
    media = _media(request.headers.get("content-type", ""))
    allowed = (JSON, JSON_LD, MERGE_PATCH) if request.method == "PATCH" else (JSON, JSON_LD)
    if media not in allowed:
        raise UnsupportedMediaType(f"the body must be {' or '.join(allowed)}, not '{media or 'none'}'")
    if not raw:
        raise InvalidRequest("the request has no body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None


def tenant_of(request: Request) -> str:
    return check_tenant_name(request.headers.get(TENANT_HEADER))


def request_context(
    request: Request, session: Session, body: Any | None = None, *, has_body: bool = False
) -> tuple[TermMap, Any]:
    """The active context and the client's @context of a request (clause 6.3.5)."""
    link = context_from_link(request.headers.getlist("link"))
    media = _media(request.headers.get("content-type", ""))
    context: Any = None
    if has_body and media == JSON_LD:
        if link is not None:
            raise BadRequestData(
                "an application/ld+json body carries its @context; the request must not also send a Link header"
            )
        if isinstance(body, list):
            found = [item.get("@context") for item in body if isinstance(item, dict)]
            if not found or any(c is None for c in found):
                raise BadRequestData("each entity of an application/ld+json body must carry an @context")
            context = found[0]
        elif isinstance(body, dict):
            if "@context" not in body:
                raise BadRequestData("an application/ld+json body must carry an @context")
            context = body["@context"]
    else:
        if has_body and _carries_context(body):
            raise BadRequestData(
                "an application/json body must not carry an @context: "
                "send it in a Link header, or send application/ld+json"
            )
        context = link
    resolver = contexts.resolver()
    if (
        context is not None
        and not isinstance(context, str)
        and not (isinstance(context, list) and len(context) == 1 and isinstance(context[0], str))
    ):
        terms = resolver.active(context, contexts.loader(session))
        contexts.register_implicit(session, context)
        return terms, context
    terms = resolver.active(context, contexts.loader(session)) if context is not None else resolver.core
    return terms, context


def _carries_context(body: Any) -> bool:
    if isinstance(body, dict):
        return "@context" in body
    if isinstance(body, list):
        return any(isinstance(item, dict) and "@context" in item for item in body)
    return False


def begin(
    request: Request, session: Session, raw: bytes | None = None, *, offered: tuple[str, ...] = (JSON, JSON_LD)
) -> Ld:
    """Everything an operation needs to know about its request, checked in the specification's order."""
    accept = choose_accept(request, offered)
    tenant = tenant_of(request)
    with_body = raw is not None
    body = read_body(request, raw) if raw is not None else None
    terms, context = request_context(request, session, body, has_body=with_body)
    return Ld(tenant=tenant, terms=terms, context=context, accept=accept, now=utcnow(), body=body)


def shape_of(
    request: Request, ld: Ld, *, allow: tuple[str, ...] = ("keyValues", "concise", "normalized", "sysAttrs")
) -> Shape:
    """The representation the `options` and `format` parameters ask for (clause 6.3.7)."""
    options = options_of(request, allow)
    form = "normalized"
    if "keyValues" in options:
        form = "keyValues"
    elif "concise" in options:
        form = "concise"
    fmt = request.query_params.get("format")
    if fmt is not None:
        if fmt not in ("normalized", "concise", "simplified", "keyValues"):
            raise BadRequestData(f"format '{fmt}' is not one of normalized, concise, simplified, keyValues")
        form = "keyValues" if fmt in ("simplified", "keyValues") else fmt
    attrs = None
    names = request.query_params.get("attrs") or request.query_params.get("pick")
    if names:
        attrs = frozenset(ld.expander.attribute_name(n.strip()) for n in names.split(",") if n.strip())
    return Shape(form=form, sys_attrs="sysAttrs" in options, attrs=attrs, lang=request.query_params.get("lang"))


def options_of(request: Request, allow: tuple[str, ...]) -> set[str]:
    raw = request.query_params.get("options")
    if not raw:
        return set()
    options = {o.strip() for o in raw.split(",") if o.strip()}
    unknown = sorted(options - set(allow))
    if unknown:
        raise BadRequestData(f"options '{', '.join(unknown)}' not known here; this operation takes {', '.join(allow)}")
    return options


def flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise BadRequestData(f"{name} must be true or false, not '{raw}'")
    return raw == "true"


def respond(
    ld: Ld, payload: Any, *, status: int = 200, headers: dict[str, str] | None = None, each: bool = True
) -> Response:
    """A JSON body in the accepted representation: the @context in a Link header (application/json), or in the
    body (application/ld+json; in each element of a list when `each`)."""
    all_headers = dict(headers or {})
    if ld.accept == JSON_LD:
        context = ld.body_context()
        if isinstance(payload, list) and each:
            payload = [{"@context": context, **item} if isinstance(item, dict) else item for item in payload]
        elif isinstance(payload, dict):
            payload = {"@context": context, **payload}
    else:
        context_link = link_header(ld.context_url())
        all_headers["Link"] = f"{context_link}, {all_headers['Link']}" if "Link" in all_headers else context_link
    if ld.tenant:
        all_headers[TENANT_HEADER] = ld.tenant
    return Response(orjson.dumps(payload), status_code=status, media_type=ld.accept, headers=all_headers)


def plain(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON body with expanded names and no @context (207 results, clause 6.3.6)."""
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


def no_content(ld: Ld | None = None, *, status: int = 204, headers: dict[str, str] | None = None) -> Response:
    all_headers = dict(headers or {})
    if ld is not None and ld.tenant:
        all_headers[TENANT_HEADER] = ld.tenant
    return Response(status_code=status, headers=all_headers)
