"""Console pages of an entry's validation rules: list, declare, edit, switch off, remove, apply suggestions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from smartcity.ingest import ruleset
from smartcity.ingest import service as batches
from smartcity.ingest.pages.common import Reader, RuleWriter, render_page, text
from smartcity.ingest.permissions import INGEST_RULES
from smartcity.ingest.rules.kinds import DECLARABLE, PARAMS, RuleKind
from smartcity.ingest.schemas import RuleIn
from smartcity.platform.console import form_errors, redirect
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_

router = APIRouter(prefix="/ingest", include_in_schema=False)

PAIR = ("match_local", "match_other")  # a comparison's `match` is one pair of fields in the form


def kinds_with(name: str) -> str:
    """The rule kinds whose form shows the input `name` (space-separated, for the form's data-kinds)."""
    param = "match" if name in PAIR else name
    return " ".join(kind.value for kind in DECLARABLE if param in PARAMS[kind].model_fields)


def rule_payload(form: FormData) -> dict[str, Any]:
    """The rule form as a RuleIn payload: only the inputs of the chosen kind become parameters."""
    kind = text(form, "kind")
    model = PARAMS.get(RuleKind(kind)) if kind in set(RuleKind) else None
    params: dict[str, Any] = {}
    for name, info in model.model_fields.items() if model else ():
        if name == "match":
            if local := text(form, PAIR[0]):
                params[name] = {local: text(form, PAIR[1]) or local}
        elif info.annotation is bool:
            params[name] = form.get(name) == "on"
        elif name == "values":
            raw = text(form, name).replace("，", ",").replace("、", ",")
            if raw:
                params[name] = [v.strip() for v in raw.split(",") if v.strip()]
        elif value := text(form, name):
            params[name] = value
    return {
        "field": text(form, "field"),
        "kind": kind,
        "params": params,
        "severity": text(form, "severity") or "error",
        "enabled": form.get("enabled", "on") == "on",
        "note": text(form, "note"),
    }


def _page(
    request: Request,
    session: DbSession,
    principal: Any,
    code: str,
    *,
    edit: int | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The rules page; `edit` fills the form with that rule (or, with `values`, with what was posted for it)."""
    locale = request_locale(request)
    ev = batches.entry_version(session, by=principal, code=code)
    declared = ruleset.entry_rules(session, code)
    edited = next((r for r in declared if r.id == edit), None)
    if edited is not None and values is None:
        values = {
            "field": edited.field,
            "kind": edited.kind,
            "params": dict(edited.params),
            "severity": edited.severity,
            "enabled": edited.enabled,
            "note": edited.note,
        }
    return render_page(
        request,
        principal,
        "ingest/rules.html",
        {
            "ev": ev,
            "rules": [ruleset.rule_read(r, locale) for r in declared],
            "suggestions": ruleset.suggest_rules(ev.fields, declared),
            "kinds": DECLARABLE,
            "kinds_with": kinds_with,
            "code_tables": ruleset.list_code_tables(session, locale),
            "values": values or {"severity": "error", "enabled": True, "params": {}},
            "errors": errors or {},
            "editing": edited.id if edited is not None else None,
            "can_edit": principal.can(INGEST_RULES) and batches.owns(principal, ev.department_id),
            "params_json": lambda p: json.dumps(p, ensure_ascii=False),
        },
        status_code=status_code,
    )


@router.get("/entries/{code}/rules", response_class=HTMLResponse)
def rules_page(
    request: Request,
    session: DbSession,
    principal: Reader,
    code: str,
    edit: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    """The entry's rules, the form to declare one, and the rules its schema suggests."""
    return _page(request, session, principal, code, edit=edit)


def _save(
    request: Request, session: DbSession, principal: Any, code: str, form: FormData, rule_id: RowId | None
) -> Response:
    payload = rule_payload(form)
    try:
        data = RuleIn.model_validate(payload)
        if rule_id is None:
            ruleset.create_rule(session, by=principal, code=code, data=data)
        else:
            ruleset.update_rule(session, by=principal, code=code, rule_id=rule_id, data=data)
    except (ValidationError, DomainError) as exc:
        session.rollback()
        errors = form_errors(exc, request_locale(request))
        return _page(request, session, principal, code, edit=rule_id, values=payload, errors=errors, status_code=422)
    return redirect(f"/ingest/entries/{code}/rules", flash=N_("The rule is saved."))


@router.post("/entries/{code}/rules", response_class=HTMLResponse)
async def create_rule(request: Request, session: DbSession, principal: RuleWriter, code: str) -> Response:
    """Declare a rule from the form."""
    return _save(request, session, principal, code, await request.form(), None)


@router.post("/entries/{code}/rules/{rule_id}", response_class=HTMLResponse)
async def update_rule(
    request: Request, session: DbSession, principal: RuleWriter, code: str, rule_id: RowId
) -> Response:
    """Save an edited rule."""
    return _save(request, session, principal, code, await request.form(), rule_id)


@router.post("/entries/{code}/rules/{rule_id}/delete")
def delete_rule(request: Request, session: DbSession, principal: RuleWriter, code: str, rule_id: RowId) -> Response:
    """Remove a rule."""
    ruleset.delete_rule(session, by=principal, code=code, rule_id=rule_id)
    return redirect(f"/ingest/entries/{code}/rules", flash=N_("The rule is removed."))


@router.post("/entries/{code}/suggestions")
def apply_suggestions(request: Request, session: DbSession, principal: RuleWriter, code: str) -> Response:
    """Declare every suggested rule."""
    created = ruleset.apply_suggestions(session, by=principal, code=code)
    return redirect(
        f"/ingest/entries/{code}/rules", flash=N_("Suggested rules added.") if created else N_("No rules to add.")
    )
