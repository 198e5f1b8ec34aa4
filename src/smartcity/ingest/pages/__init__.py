"""Console pages of data collection, and the links it adds to catalogue entries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from markupsafe import Markup, escape

from smartcity.ingest.pages import batches, oversight, rules
from smartcity.ingest.pages.batches import UPLOAD_PATH as CONSOLE_UPLOAD_PATH
from smartcity.ingest.permissions import INGEST_READ, INGEST_SUBMIT

router = APIRouter(include_in_schema=False)
for part in (batches.router, rules.router, oversight.router):
    router.include_router(part)

__all__ = ["CONSOLE_UPLOAD_PATH", "catalogue_links", "router"]


def catalogue_links(values: dict[str, Any]) -> str:
    """Buttons on a catalogue entry's page: its rules, its batches, and (for its department) submitting data."""
    principal, entry, translate = values.get("principal"), values.get("entry"), values.get("_")
    if principal is None or entry is None or translate is None or not principal.can(INGEST_READ):
        return ""
    code = escape(entry.code)
    links = [
        f'<a class="button secondary" href="/ingest/entries/{code}/rules">{escape(translate("Validation rules"))}</a>',
        f'<a class="button secondary" href="/ingest?entry={code}">{escape(translate("Batches"))}</a>',
    ]
    owner = principal.is_platform_admin or principal.department_code == entry.department.code
    if principal.can(INGEST_SUBMIT) and owner:
        links.append(f'<a class="button" href="/ingest/new?entry={code}">{escape(translate("Submit data"))}</a>')
    return str(Markup(" ".join(links)))
