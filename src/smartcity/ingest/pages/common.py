"""What the console pages of data collection share: the route rules, rendering with labels and buttons, forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from smartcity.catalog.vocab import LABELS as CATALOG_LABELS
from smartcity.ingest.permissions import (
    INGEST_CODES,
    INGEST_PULL,
    INGEST_READ,
    INGEST_RESPOND,
    INGEST_REVIEW,
    INGEST_RULES,
    INGEST_SUBMIT,
)
from smartcity.ingest.rules.kinds import KIND_LABELS
from smartcity.ingest.vocab import LABELS
from smartcity.platform.console import render
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.principal import Principal

Reader = Annotated[Principal, Depends(page(INGEST_READ))]
Submitter = Annotated[Principal, Depends(page(INGEST_SUBMIT))]
RuleWriter = Annotated[Principal, Depends(page(INGEST_RULES))]
Responder = Annotated[Principal, Depends(page(INGEST_RESPOND))]
Reviewer = Annotated[Principal, Depends(page(INGEST_REVIEW))]
Puller = Annotated[Principal, Depends(page(INGEST_PULL))]
CodeKeeper = Annotated[Principal, Depends(page(INGEST_CODES))]
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]
PAGE_SIZE = 25


def labels() -> dict[str, Any]:
    """Labels for templates: statuses, stages, sources, rule kinds, field types."""
    return {**LABELS, "kind": KIND_LABELS, "field_type": CATALOG_LABELS["field_type"]}


def capabilities(principal: Principal) -> dict[str, bool]:
    """Which buttons the caller gets."""
    return {
        "can_submit": principal.can(INGEST_SUBMIT),
        "can_rules": principal.can(INGEST_RULES),
        "can_respond": principal.can(INGEST_RESPOND),
        "can_review": principal.can(INGEST_REVIEW),
        "can_pull": principal.can(INGEST_PULL),
        "can_codes": principal.can(INGEST_CODES),
    }


def render_page(
    request: Request, principal: Principal, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A data-collection page: the console shell, the labels, and which buttons the caller gets."""
    return render(request, name, {"labels": labels(), **capabilities(principal), **context}, status_code=status_code)


def text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""
