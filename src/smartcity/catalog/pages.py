"""Console pages of the resource catalogue: list and search, detail, versions, create, edit."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from smartcity.catalog import dcat
from smartcity.catalog import service as catalog
from smartcity.catalog.forms import entry_payload
from smartcity.catalog.permissions import CATALOG_READ, CATALOG_WRITE
from smartcity.catalog.schemas import EntryCreate, EntryRead, EntryUpdate, VersionRetire
from smartcity.catalog.service import EntryFilter
from smartcity.catalog.vocab import LABELS, SharingType
from smartcity.platform.console import form_errors, redirect, render
from smartcity.platform.deps import DbSession
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams, pager

router = APIRouter(prefix="/catalog", include_in_schema=False)
Reader = Annotated[Principal, Depends(page(CATALOG_READ))]
Writer = Annotated[Principal, Depends(page(CATALOG_WRITE))]
PAGE_SIZE = 20


def _choices(session: DbSession) -> dict[str, Any]:
    return {"labels": LABELS, "departments": identity.all_departments(session)}


@router.get("", response_class=HTMLResponse)
def list_entries(
    request: Request,
    session: DbSession,
    principal: Reader,
    q: Annotated[str | None, Query(max_length=100)] = None,
    department: Annotated[str | None, Query(max_length=16)] = None,
    sharing_type: Annotated[str | None, Query(max_length=16)] = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """Search and browse the catalogue."""
    sharing = SharingType(sharing_type) if sharing_type in set(SharingType) else None
    flt = EntryFilter(q=q or None, department=department or None, sharing_type=sharing)
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = catalog.search_entries(session, by=principal, flt=flt, params=params)
    query = {k: v for k, v in {"q": q, "department": department, "sharing_type": sharing_type}.items() if v}

    def url_for_page(number: int) -> str:
        return "/catalog?" + urlencode({**query, "page": number})

    return render(
        request,
        "catalog/list.html",
        {
            **_choices(session),
            "items": items,
            **pager(total, params, url_for_page),
            "q": q or "",
            "department": department or "",
            "sharing_type": sharing_type or "",
            "can_write": principal.can(CATALOG_WRITE),
        },
    )


def _blank_form() -> dict[str, Any]:
    return {
        "code": "",
        "name": "",
        "department": "",
        "description": "",
        "sharing_type": "conditional",
        "sharing_condition": "",
        "open_type": "none",
        "open_condition": "",
        "update_cycle": "daily",
        "format": "table",
        "tags": [],
        "change_note": "",
        "fields": [
            {
                "name": "",
                "title": "",
                "type": "string",
                "required": True,
                "sensitive": False,
                "key": True,
                "description": "",
            }
        ],
    }


@router.get("/dcat")
def catalogue_dcat(request: Request, session: DbSession, principal: Reader) -> Response:
    """The whole catalogue as DCAT JSON-LD, downloaded from the console."""
    document = dcat.catalogue_document(
        catalog.all_entries(session, by=principal), str(request.base_url), dcat.CATALOGUE_TITLE
    )
    return _json_ld(document, "catalogue.jsonld")


def _json_ld(document: dict[str, Any], filename: str) -> Response:
    return JSONResponse(
        document, media_type=dcat.JSON_LD, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/new", response_class=HTMLResponse)
def new_entry_form(request: Request, session: DbSession, principal: Writer) -> Response:
    """The form to publish an entry."""
    values = _blank_form()
    values["department"] = principal.department_code or ""
    return render(request, "catalog/form.html", {**_choices(session), "values": values, "errors": {}, "mode": "create"})


@router.post("/new", response_class=HTMLResponse)
async def create_entry(request: Request, session: DbSession, principal: Writer) -> Response:
    """Publish an entry from the form; on error, show the form again with the messages."""
    payload = entry_payload(await request.form(), with_code=True)
    try:
        entry = catalog.create_entry(session, by=principal, data=EntryCreate.model_validate(payload))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        return render(
            request,
            "catalog/form.html",
            {
                **_choices(session),
                "values": {**_blank_form(), **payload},
                "mode": "create",
                "errors": form_errors(exc, request_locale(request)),
            },
            status_code=422,
        )
    return redirect(f"/catalog/{entry.code}", flash=N_("Catalogue entry saved."))


@router.get("/{code}", response_class=HTMLResponse)
def entry_detail(request: Request, session: DbSession, principal: Reader, code: str) -> Response:
    """One entry: metadata, current fields, version history, exports."""
    model = catalog.get_entry(session, by=principal, code=code)
    entry = catalog.entry_read(session, model)
    versions = catalog.list_versions(session, by=principal, code=code)
    return render(
        request,
        "catalog/detail.html",
        {"entry": entry, "versions": versions, "labels": LABELS, "can_edit": catalog.can_edit(principal, model)},
    )


@router.get("/{code}/dcat")
def entry_dcat(request: Request, session: DbSession, principal: Reader, code: str) -> Response:
    """One entry as DCAT JSON-LD, downloaded from the console."""
    entry = catalog.entry_read(session, catalog.get_entry(session, by=principal, code=code))
    return _json_ld(dcat.entry_document(entry, str(request.base_url)), f"{code}.jsonld")


@router.get("/{code}/versions/{version}", response_class=HTMLResponse)
def version_detail(request: Request, session: DbSession, principal: Reader, code: str, version: int) -> Response:
    """The field schema as of one version, its status, and (for editors) the button that retires it."""
    found = catalog.get_version(session, by=principal, code=code, version=version)
    can_edit = catalog.can_edit(principal, catalog.get_entry(session, by=principal, code=code))
    return render(
        request, "catalog/version.html", {"version": found, "labels": LABELS, "can_edit": can_edit, "errors": {}}
    )


@router.post("/{code}/versions/{version}/retire", response_class=HTMLResponse)
async def retire_version(request: Request, session: DbSession, principal: Writer, code: str, version: int) -> Response:
    """Retire a superseded version from the version page."""
    note = (await request.form()).get("note")
    try:
        data = VersionRetire.model_validate({"note": note if isinstance(note, str) else ""})
        catalog.retire_version(session, by=principal, code=code, version=version, data=data)
    except (ValidationError, DomainError) as exc:
        session.rollback()
        found = catalog.get_version(session, by=principal, code=code, version=version)
        return render(
            request,
            "catalog/version.html",
            {"version": found, "labels": LABELS, "can_edit": True, "errors": form_errors(exc, request_locale(request))},
            status_code=422,
        )
    return redirect(f"/catalog/{code}/versions/{version}", flash=N_("The version is retired."))


def _edit_values(entry: EntryRead) -> dict[str, Any]:
    values = entry.model_dump(mode="json")
    values["department"] = entry.department.code
    values["change_note"] = ""
    return values


@router.get("/{code}/edit", response_class=HTMLResponse)
def edit_entry_form(request: Request, session: DbSession, principal: Writer, code: str) -> Response:
    """The form to edit an entry."""
    model = catalog.get_entry(session, by=principal, code=code)
    if not catalog.can_edit(principal, model):
        return redirect(f"/catalog/{code}", flash=N_("You can edit entries of your own department only."))
    return render(
        request,
        "catalog/form.html",
        {**_choices(session), "mode": "edit", "errors": {}, "values": _edit_values(catalog.entry_read(session, model))},
    )


@router.post("/{code}/edit", response_class=HTMLResponse)
async def update_entry(request: Request, session: DbSession, principal: Writer, code: str) -> Response:
    """Save the edit form; a changed field table becomes a new version."""
    payload = entry_payload(await request.form(), with_code=False)
    try:
        entry = catalog.update_entry(session, by=principal, code=code, data=EntryUpdate.model_validate(payload))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        current = catalog.entry_read(session, catalog.get_entry(session, by=principal, code=code))
        return render(
            request,
            "catalog/form.html",
            {
                **_choices(session),
                "mode": "edit",
                "values": {**_edit_values(current), **payload},
                "errors": form_errors(exc, request_locale(request)),
            },
            status_code=422,
        )
    return redirect(f"/catalog/{entry.code}", flash=N_("Catalogue entry saved."))
