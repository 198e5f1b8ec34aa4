"""The public open-data portal (/open): no platform login. Search, dataset pages with a preview, CSV and JSON
downloads, registration and sign-in of portal accounts, conditions to accept, API keys, the DCAT catalogue."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from smartcity.catalog.schemas import EntryRead
from smartcity.catalog.vocab import LABELS, OpenType
from smartcity.config import get_settings
from smartcity.exchange.models import PortalAccount
from smartcity.exchange.opendata import accounts, ckan, dcat, portal
from smartcity.exchange.opendata.schemas import AccountIn, AgreementIn
from smartcity.platform.console import form_errors, redirect, render
from smartcity.platform.deps import DbSession
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_
from smartcity.platform.identity.deps import PublicFormRule
from smartcity.platform.paging import PageParams, pager
from smartcity.platform.permissions import PUBLIC

PORTAL_COOKIE = "sc_open"
PAGE_SIZE = 20
PREVIEW_ROWS = 20
router = APIRouter(prefix="/open", include_in_schema=False)
Public = [Depends(PUBLIC)]
PublicForm = [Depends(PublicFormRule())]


def _account(request: Request, session: Session) -> PortalAccount | None:
    return accounts.from_cookie(session, request.cookies.get(PORTAL_COOKIE))


def _render(
    request: Request, session: Session, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    values = {
        "account": _account(request, session),
        "labels": LABELS,
        "OpenType": OpenType,
        "config_licence": get_settings().open_data_license,
        **context,
    }
    return render(request, name, values, status_code=status_code)


@router.get("", response_class=HTMLResponse, dependencies=Public)
def home(
    request: Request,
    session: DbSession,
    q: Annotated[str, Query(max_length=100)] = "",
    department: Annotated[str | None, Query(max_length=16)] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    open_type: Annotated[str, Query(max_length=16)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> Response:
    """The open datasets, searched by words, department, tag and open type (the form sends '' for 'all')."""
    every = portal.datasets(session)
    wanted = OpenType(open_type) if open_type in (OpenType.UNCONDITIONAL, OpenType.CONDITIONAL) else None
    search = portal.Search(q=q.strip(), department=department or None, tag=tag or None, open_type=wanted)
    loads = portal.loaded(session, every)
    # Datasets with data first, the most recently delivered first; then the ones only described.
    found = sorted(
        (e for e in every if portal.matches(e, search)),
        key=lambda e: (e.code not in loads, -(loads[e.code].timestamp() if e.code in loads else 0), e.code),
    )
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    departments = sorted({(e.department.code, e.department.name) for e in every}, key=lambda d: d[1])

    def url_for_page(n: int) -> str:
        args = {"q": q, "department": department or "", "tag": tag or "", "open_type": open_type, "page": n}
        return "/open?" + urlencode({k: v for k, v in args.items() if v})

    context = {
        "items": found[params.offset : params.offset + PAGE_SIZE],
        "q": q,
        "department": department or "",
        "tag": tag or "",
        "open_type": wanted.value if wanted else "",
        "departments": departments,
        "dataset_count": len(every),
        "loads": loads,
        **pager(len(found), params, url_for_page),
    }
    return _render(request, session, "open/home.html", context)


@router.get("/catalog.jsonld", dependencies=Public)
def catalogue(session: DbSession) -> Response:
    """The open datasets as a DCAT catalogue (JSON-LD)."""
    return JSONResponse(dcat.catalogue(session), media_type="application/ld+json")


@router.get("/dataset/{name}", response_class=HTMLResponse, dependencies=Public)
def dataset_page(request: Request, session: DbSession, name: str) -> Response:
    """A dataset: description, department, public fields, conditions, a preview and downloads."""
    entry = portal.dataset(session, name[:40])
    account = _account(request, session)
    readable = portal.may_read(session, entry, account)
    preview: tuple[list[str], list[dict[str, Any]], int | None] = ([], [], None)
    if readable:
        preview = portal.rows(session, entry, portal.RowQuery(limit=PREVIEW_ROWS), account=account)
    context = {
        "entry": entry,
        "fields": portal.public_fields(entry),
        "hidden": [f for f in entry.fields if f.sensitive],
        "readable": readable,
        "has_data": portal.stored(session, entry) is not None,
        "names": preview[0],
        "rows": preview[1],
        "total": preview[2],
        "resource_id": ckan.ckan_id("resource", entry.code),
        "errors": {},
        "purpose": "",
    }
    return _render(request, session, "open/dataset.html", context)


def _csv_stream(entry: EntryRead, names: list[str], titles: list[str]) -> Iterator[bytes]:
    yield "\ufeff".encode()  # so spreadsheet programs read the Chinese text as UTF-8
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(titles)
    writer.writerow(names)
    for chunk in portal.export_chunks(entry, names):
        for row in chunk:
            writer.writerow(["" if row[n] is None else row[n] for n in names])
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
    yield out.getvalue().encode()


def _json_stream(entry: EntryRead, names: list[str]) -> Iterator[bytes]:
    yield b'{"dataset":' + json.dumps(entry.code.lower()).encode() + b',"fields":'
    yield json.dumps(names, ensure_ascii=False).encode() + b',"records":['
    first = True
    for chunk in portal.export_chunks(entry, names):
        for row in chunk:
            yield (b"" if first else b",") + json.dumps(row, ensure_ascii=False, default=str).encode()
            first = False
    yield b"]}"


@router.get("/dataset/{name}/download.{fmt}", dependencies=Public)
def download(request: Request, session: DbSession, name: str, fmt: str) -> Response:
    """Every row of the public fields, as CSV (UTF-8 with a header of titles and one of names) or JSON."""
    entry = portal.dataset(session, name[:40])
    if fmt not in ("csv", "json"):
        return _render(request, session, "open/dataset.html", {"entry": entry}, status_code=404)
    names = portal.start_export(session, entry, account=_account(request, session))
    filename = quote(f"{entry.name}.{fmt}")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"}
    if fmt == "csv":
        titles = [f.title for f in portal.public_fields(entry)]
        return StreamingResponse(
            _csv_stream(entry, names, titles), media_type="text/csv; charset=utf-8", headers=headers
        )
    return StreamingResponse(_json_stream(entry, names), media_type="application/json", headers=headers)


@router.post("/dataset/{name}/agreement", response_class=HTMLResponse, dependencies=PublicForm)
def accept_conditions(
    request: Request,
    session: DbSession,
    name: str,
    purpose: Annotated[str, Form(max_length=1000)] = "",
    accept: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Accept the conditions of a conditionally open dataset (signed-in portal accounts)."""
    entry = portal.dataset(session, name[:40])
    account = _account(request, session)
    if account is None:
        return RedirectResponse(f"/open/login?next=/open/dataset/{entry.code.lower()}", status_code=303)
    try:
        accounts.accept(session, account=account, entry=entry, data=AgreementIn(purpose=purpose, accept=accept == "on"))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        context = {
            "entry": entry,
            "fields": portal.public_fields(entry),
            "hidden": [f for f in entry.fields if f.sensitive],
            "readable": False,
            "has_data": portal.stored(session, entry) is not None,
            "names": [],
            "rows": [],
            "total": None,
            "resource_id": ckan.ckan_id("resource", entry.code),
            "errors": form_errors(exc, request_locale(request)),
            "purpose": purpose,
        }
        return _render(request, session, "open/dataset.html", context, status_code=422)
    return redirect(f"/open/dataset/{entry.code.lower()}", flash=N_("Conditions accepted: the data is open to you."))


def _safe_next(target: str) -> str:
    return target if target.startswith("/open") and "//" not in target else "/open"


@router.get("/register", response_class=HTMLResponse, dependencies=Public)
def register_form(request: Request, session: DbSession) -> Response:
    """Registration of a portal account."""
    return _render(request, session, "open/register.html", {"values": {}, "errors": {}})


@router.post("/register", response_class=HTMLResponse, dependencies=PublicForm)
async def register(request: Request, session: DbSession) -> Response:
    """Create a portal account and sign it in."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("username", "display_name", "email", "organisation", "password")}
    try:
        accounts.register(session, data=AccountIn.model_validate(values))
        cookie = accounts.login(session, username=values["username"], password=values["password"])
    except (ValidationError, DomainError) as exc:
        session.rollback()
        values.pop("password")
        errors = form_errors(exc, request_locale(request))
        return _render(request, session, "open/register.html", {"values": values, "errors": errors}, 422)
    return _signed_in(redirect("/open/account", flash=N_("Welcome: your portal account is ready.")), cookie)


def _signed_in(response: Response, cookie: str) -> Response:
    settings = get_settings()
    response.set_cookie(
        PORTAL_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=settings.session_hours * 3600,
    )
    return response


@router.get("/login", response_class=HTMLResponse, dependencies=Public)
def login_form(request: Request, session: DbSession, next: str = "/open") -> Response:
    """Sign-in of a portal account."""
    return _render(request, session, "open/login.html", {"next": _safe_next(next), "error": None, "username": ""})


@router.post("/login", response_class=HTMLResponse, dependencies=PublicForm)
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=300)] = "/open",
) -> Response:
    try:
        cookie = accounts.login(session, username=username, password=password)
    except DomainError as exc:
        context = {
            "next": _safe_next(next),
            "error": exc.localised_detail(request_locale(request)),
            "username": username,
        }
        return _render(request, session, "open/login.html", context, status_code=401)
    return _signed_in(RedirectResponse(_safe_next(next), status_code=303), cookie)


@router.post("/logout", dependencies=PublicForm)
def logout(request: Request, session: DbSession) -> Response:
    accounts.logout(session, cookie=request.cookies.get(PORTAL_COOKIE, ""))
    response = RedirectResponse("/open", status_code=303)
    response.delete_cookie(PORTAL_COOKIE)
    return response


@router.get("/account", response_class=HTMLResponse, dependencies=Public)
def account_page(request: Request, session: DbSession) -> Response:
    """The signed-in account: its agreements and its API key for CKAN clients."""
    account = _account(request, session)
    if account is None:
        return RedirectResponse("/open/login?next=/open/account", status_code=303)
    entries = {e.code: e for e in portal.datasets(session)}
    context = {"me": accounts.account_read(session, account, entries), "new_key": None}
    return _render(request, session, "open/account.html", context)


@router.post("/account/api-key", response_class=HTMLResponse, dependencies=PublicForm)
def new_api_key(request: Request, session: DbSession) -> Response:
    """Issue a new API key (shown once); the previous one stops working."""
    account = _account(request, session)
    if account is None:
        return RedirectResponse("/open/login?next=/open/account", status_code=303)
    key = accounts.issue_api_key(session, account=account)
    entries = {e.code: e for e in portal.datasets(session)}
    context = {"me": accounts.account_read(session, account, entries), "new_key": key}
    return _render(request, session, "open/account.html", context)
