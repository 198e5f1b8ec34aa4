"""Administration pages: departments, users, API tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from smartcity.platform.console import form_errors, redirect, render
from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.errors import DomainError, request_locale
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity import tokens
from smartcity.platform.identity.deps import page
from smartcity.platform.identity.permissions import (
    DEPARTMENT_MANAGE,
    DEPARTMENT_READ,
    TOKEN_MANAGE,
    USER_MANAGE,
    USER_READ,
)
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.schemas import DepartmentCreate, TokenCreate, UserCreate, UserUpdate
from smartcity.platform.paging import PageParams, pager
from smartcity.platform.permissions import REGISTRY, ROLE_LABELS, Role

TEMPLATES = str(Path(__file__).parent / "templates")
router = APIRouter(prefix="/admin", include_in_schema=False)
PAGE_SIZE = 30
PageNo = Annotated[int, Query(alias="page", ge=1, le=100_000)]


def _form_dict(form: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k in keys if isinstance(v := form.get(k), str) and v != ""}


# --- departments -----------------------------------------------------------------------------


@router.get("/departments", response_class=HTMLResponse)
def department_list(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(page(DEPARTMENT_READ))],
    page_no: PageNo = 1,
    q: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """Departments and town offices."""
    return departments(request, session, principal, page_no=page_no, q=q)


def departments(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    page_no: int = 1,
    q: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = identity.list_departments(session, q=q, kind=None, params=params)
    return render(
        request,
        "admin/departments.html",
        {
            "items": items,
            "q": q or "",
            **pager(total, params, lambda n: f"/admin/departments?page={n}&q={q or ''}"),
            "can_manage": principal.can(DEPARTMENT_MANAGE),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=422 if errors else 200,
    )


@router.post("/departments", response_class=HTMLResponse)
async def create_department(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(DEPARTMENT_MANAGE))]
) -> Response:
    """Register a department from the form."""
    values = _form_dict(await request.form(), ("code", "name", "short_name", "kind", "division_code"))
    try:
        identity.create_department(session, by=principal, data=DepartmentCreate.model_validate(values))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        return departments(request, session, principal, errors=form_errors(exc, request_locale(request)), values=values)
    return redirect("/admin/departments", flash=N_("Department saved."))


# --- users -----------------------------------------------------------------------------------


def _user_context(session: DbSession, principal: Principal) -> dict[str, Any]:
    roles = list(Role) if principal.is_platform_admin else [Role.DEPT_ADMIN, Role.DEPT_STAFF]
    return {"roles": roles, "role_labels": ROLE_LABELS, "departments": identity.all_departments(session)}


@router.get("/users", response_class=HTMLResponse)
def user_list(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(USER_READ))], page_no: PageNo = 1
) -> Response:
    """Users the caller may see, and the form to add one."""
    return users(request, session, principal, page_no=page_no)


def users(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    page_no: int = 1,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = identity.list_users(session, by=principal, params=params)
    return render(
        request,
        "admin/users.html",
        {
            **_user_context(session, principal),
            "items": [identity.user_read(u) for u in items],
            **pager(total, params, lambda n: f"/admin/users?page={n}"),
            "can_manage": principal.can(USER_MANAGE),
            "errors": errors or {},
            "values": values or {"department": principal.department_code or ""},
        },
        status_code=422 if errors else 200,
    )


@router.post("/users", response_class=HTMLResponse)
async def create_user(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(USER_MANAGE))]
) -> Response:
    """Create a user from the form."""
    values = _form_dict(await request.form(), ("username", "display_name", "password", "role", "department"))
    try:
        identity.create_user(session, by=principal, data=UserCreate.model_validate(values))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        values.pop("password", None)
        return users(request, session, principal, errors=form_errors(exc, request_locale(request)), values=values)
    return redirect("/admin/users", flash=N_("User saved."))


@router.get("/users/{username}", response_class=HTMLResponse)
def user_page(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(USER_READ))], username: str
) -> Response:
    """One user, with the edit form for those who may manage users."""
    return user_detail(request, session, principal, username)


def user_detail(
    request: Request, session: DbSession, principal: Principal, username: str, errors: dict[str, str] | None = None
) -> Response:
    user = identity.user_read(identity.get_user(session, by=principal, username=username))
    return render(
        request,
        "admin/user.html",
        {
            **_user_context(session, principal),
            "user": user,
            "can_manage": principal.can(USER_MANAGE),
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.post("/users/{username}", response_class=HTMLResponse)
async def update_user(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(USER_MANAGE))], username: str
) -> Response:
    """Save role, department, active flag or a new password."""
    form = await request.form()
    values: dict[str, Any] = _form_dict(form, ("display_name", "role", "department", "password"))
    values["is_active"] = form.get("is_active") == "on"
    if values.get("role") not in (Role.DEPT_ADMIN, Role.DEPT_STAFF):
        values["department"] = None
    try:
        identity.update_user(session, by=principal, username=username, data=UserUpdate.model_validate(values))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        return user_detail(request, session, principal, username, errors=form_errors(exc, request_locale(request)))
    return redirect(f"/admin/users/{username}", flash=N_("User saved."))


# --- tokens ----------------------------------------------------------------------------------


@router.get("/tokens", response_class=HTMLResponse)
def token_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(page(TOKEN_MANAGE))],
    page_no: PageNo = 1,
) -> Response:
    """Tokens of the caller's department, and the form to issue one."""
    return token_list(request, session, principal, page_no=page_no)


def token_list(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    page_no: int = 1,
    created: str | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    params = PageParams(page=page_no, page_size=PAGE_SIZE)
    items, total = tokens.list_tokens(session, by=principal, params=params)
    scopes = sorted(REGISTRY.token_scopes_for_role(principal.role))
    return render(
        request,
        "admin/tokens.html",
        {
            "items": [tokens.token_read(t) for t in items],
            **pager(total, params, lambda n: f"/admin/tokens?page={n}"),
            "scopes": [(s, REGISTRY.permissions[s].description) for s in scopes],
            "created": created,
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.post("/tokens", response_class=HTMLResponse)
async def issue_token(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(TOKEN_MANAGE))]
) -> Response:
    """Issue a token and show its secret once."""
    form = await request.form()
    values = {
        "name": form.get("name"),
        "scopes": [s for s in form.getlist("scopes") if isinstance(s, str)],
        "expires_in_days": form.get("expires_in_days") or None,
    }
    try:
        _, raw = tokens.create_token(session, by=principal, data=TokenCreate.model_validate(values))
    except (ValidationError, DomainError) as exc:
        session.rollback()
        return token_list(request, session, principal, errors=form_errors(exc, request_locale(request)))
    return token_list(request, session, principal, created=raw)


@router.post("/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke(
    session: DbSession, principal: Annotated[Principal, Depends(page(TOKEN_MANAGE))], token_id: RowId
) -> Response:
    """Revoke a token."""
    tokens.revoke_token(session, by=principal, token_id=token_id)
    return redirect("/admin/tokens", flash=N_("Token revoked."))
