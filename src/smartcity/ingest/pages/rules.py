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
from smartcity.ingest.pages.common import Reader, RuleWriter, capabilities, labels, text
from smartcity.ingest.rules.kinds import DECLARABLE
from smartcity.ingest.schemas import RuleIn
from smartcity.platform.console import form_errors, redirect, render
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_

router = APIRouter(prefix="/ingest", include_in_schema=False)

# Form inputs of each rule kind → parameter names (lists are comma-separated, flags are checkboxes).
LIST_PARAMS = {"values"}
FLAG_PARAMS = {"check_region", "allow_landline", "not_future"}
KIND_INPUTS: dict[str, tuple[str, ...]] = {
    "enum": ("values", "code_table"),
    "pattern": ("regex", "hint"),
    "range": ("min", "max"),
    "length": ("min", "max"),
    "unique": (),
    "resident_id": ("birth_date_field", "sex_field", "check_region"),
    "uscc": (),
    "phone": ("allow_landline",),
    "date_sanity": ("not_future", "earliest"),
    "cross_field": ("op", "other"),
    "required_if": ("other", "values"),
    "compare": ("entry", "match_local", "match_other", "other_field", "mode"),
}


def rule_payload(form: FormData) -> dict[str, Any]:
    """The rule form as a RuleIn payload: only the inputs of the chosen kind become parameters."""
    kind = text(form, "kind")
    params: dict[str, Any] = {}
    for name in KIND_INPUTS.get(kind, ()):
        if name in FLAG_PARAMS:
            params[name] = form.get(name) == "on"
        elif name in LIST_PARAMS:
            raw = text(form, name).replace("，", ",").replace("、", ",")
            if raw:
                params[name] = [v.strip() for v in raw.split(",") if v.strip()]
        elif name in ("match_local", "match_other"):
            continue
        elif value := text(form, name):
            params[name] = int(value) if kind == "length" and value.isdigit() else value
    if kind == "compare" and text(form, "match_local"):
        params["match"] = {text(form, "match_local"): text(form, "match_other") or text(form, "match_local")}
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
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    editing: int | None = None,
    status_code: int = 200,
) -> Response:
    locale = request_locale(request)
    ev = batches.entry_version(session, by=principal, code=code)
    rules = [ruleset.rule_read(r, locale) for r in ruleset.list_rules(session, by=principal, code=code)]
    can_edit = capabilities(principal)["can_rules"] and batches.owns(principal, ev.department_id)
    return render(
        request,
        "ingest/rules.html",
        {
            "ev": ev,
            "rules": rules,
            "suggestions": ruleset.suggest_rules(ev.fields, ruleset.entry_rules(session, code)),
            "kinds": DECLARABLE,
            "kind_inputs": KIND_INPUTS,
            "code_tables": ruleset.list_code_tables(session, locale),
            "values": values or {"severity": "error", "enabled": True, "params": {}},
            "errors": errors or {},
            "editing": editing,
            "can_edit": can_edit,
            "labels": labels(),
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
    values = None
    if edit is not None:
        rule = next((r for r in ruleset.list_rules(session, by=principal, code=code) if r.id == edit), None)
        if rule is not None:
            values = {
                "field": rule.field,
                "kind": rule.kind,
                "params": dict(rule.params),
                "severity": rule.severity,
                "enabled": rule.enabled,
                "note": rule.note,
            }
    return _page(request, session, principal, code, values=values, editing=edit if values else None)


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
        return _page(request, session, principal, code, values=payload, errors=errors, editing=rule_id, status_code=422)
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
