"""JSON API of the resource catalogue (/api/v1/catalog)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from smartcity.catalog import dcat
from smartcity.catalog import service as catalog
from smartcity.catalog.permissions import CATALOG_READ, CATALOG_WRITE
from smartcity.catalog.schemas import EntryCreate, EntryRead, EntrySummary, EntryUpdate, VersionRead, VersionRetire
from smartcity.catalog.service import EntryFilter
from smartcity.catalog.vocab import OpenType, SharingType
from smartcity.platform.deps import DbSession
from smartcity.platform.identity.deps import api
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import Page, PageParams, page_body, page_params

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
Reader = Annotated[Principal, Depends(api(CATALOG_READ))]
Writer = Annotated[Principal, Depends(api(CATALOG_WRITE))]


@router.get("/entries", response_model=Page[EntrySummary])
def search_entries(
    session: DbSession,
    principal: Reader,
    params: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(max_length=100, description="words that must all occur, e.g. 人口")] = None,
    department: Annotated[str | None, Query(max_length=16, description="providing department code")] = None,
    sharing_type: SharingType | None = None,
    open_type: OpenType | None = None,
    tag: Annotated[str | None, Query(max_length=20)] = None,
) -> Page[EntrySummary]:
    """Search the catalogue by words, department, sharing and open type, tag."""
    flt = EntryFilter(q=q, department=department, sharing_type=sharing_type, open_type=open_type, tag=tag)
    items, total = catalog.search_entries(session, by=principal, flt=flt, params=params)
    return Page(**page_body(items, total, params))


@router.post("/entries", response_model=EntryRead, status_code=201)
def create_entry(session: DbSession, principal: Writer, data: EntryCreate, response: Response) -> EntryRead:
    """Publish a catalogue entry (schema version 1)."""
    entry = catalog.create_entry(session, by=principal, data=data)
    response.headers["Location"] = f"/api/v1/catalog/entries/{entry.code}"
    return catalog.entry_read(session, entry)


@router.get("/dcat", response_class=JSONResponse)
def catalogue_dcat(session: DbSession, principal: Reader, request: Request) -> JSONResponse:
    """The whole catalogue as a DCAT dcat:Catalog (JSON-LD)."""
    entries = catalog.all_entries(session, by=principal)
    document = dcat.catalogue_document(entries, str(request.base_url), dcat.CATALOGUE_TITLE)
    return JSONResponse(document, media_type=dcat.JSON_LD)


@router.get("/entries/{code}", response_model=EntryRead)
def get_entry(session: DbSession, principal: Reader, code: str) -> EntryRead:
    """One entry with its current field schema."""
    return catalog.entry_read(session, catalog.get_entry(session, by=principal, code=code))


@router.patch("/entries/{code}", response_model=EntryRead)
def update_entry(session: DbSession, principal: Writer, code: str, data: EntryUpdate) -> EntryRead:
    """Change an entry; a changed field list creates a new version."""
    return catalog.entry_read(session, catalog.update_entry(session, by=principal, code=code, data=data))


@router.get("/entries/{code}/versions", response_model=list[VersionRead])
def list_versions(session: DbSession, principal: Reader, code: str) -> list[VersionRead]:
    """Every schema version of an entry."""
    return catalog.list_versions(session, by=principal, code=code)


@router.get("/entries/{code}/versions/{version}", response_model=VersionRead)
def get_version(session: DbSession, principal: Reader, code: str, version: int) -> VersionRead:
    """One schema version of an entry."""
    return catalog.get_version(session, by=principal, code=code, version=version)


@router.post("/entries/{code}/versions/{version}/retire", response_model=VersionRead)
def retire_version(session: DbSession, principal: Writer, code: str, version: int, data: VersionRetire) -> VersionRead:
    """Retire a superseded schema version: it stays readable but takes no new batches."""
    return catalog.retire_version(session, by=principal, code=code, version=version, data=data)


@router.get("/entries/{code}/dcat", response_class=JSONResponse)
def entry_dcat(session: DbSession, principal: Reader, code: str, request: Request) -> JSONResponse:
    """One entry as a DCAT dcat:Dataset (JSON-LD)."""
    entry = catalog.entry_read(session, catalog.get_entry(session, by=principal, code=code))
    return JSONResponse(dcat.entry_document(entry, str(request.base_url)), media_type=dcat.JSON_LD)
