"""JSON API of identity: the caller, departments, users, API tokens (/api/v1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from smartcity.platform.deps import DbSession, RowId
from smartcity.platform.identity import service as identity
from smartcity.platform.identity import tokens
from smartcity.platform.identity.deps import api
from smartcity.platform.identity.permissions import (
    DEPARTMENT_MANAGE,
    DEPARTMENT_READ,
    PROFILE_READ,
    TOKEN_MANAGE,
    USER_MANAGE,
    USER_READ,
)
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.schemas import (
    DepartmentCreate,
    DepartmentKind,
    DepartmentRead,
    Me,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from smartcity.platform.paging import Page, PageParams, page_body, page_params

router = APIRouter(prefix="/api/v1", tags=["identity"])
Paging = Annotated[PageParams, Depends(page_params)]


@router.get("/me", response_model=Me)
def me(principal: Annotated[Principal, Depends(api(PROFILE_READ))]) -> Me:
    """Who the presented token acts as, and its effective permissions."""
    return Me(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        department=principal.department_code,
        permissions=sorted(principal.permissions),
        via="token" if principal.token_id else "session",
    )


@router.get("/departments", response_model=Page[DepartmentRead])
def list_departments(
    session: DbSession,
    _: Annotated[Principal, Depends(api(DEPARTMENT_READ))],
    params: Paging,
    q: Annotated[str | None, Query(max_length=50)] = None,
    kind: DepartmentKind | None = None,
) -> dict:
    """Departments and town offices, filtered by name fragment and kind."""
    items, total = identity.list_departments(session, q=q, kind=kind, params=params)
    return page_body([DepartmentRead.model_validate(d) for d in items], total, params)


@router.get("/departments/{code}", response_model=DepartmentRead)
def get_department(
    session: DbSession, _: Annotated[Principal, Depends(api(DEPARTMENT_READ))], code: str
) -> DepartmentRead:
    """One department."""
    return DepartmentRead.model_validate(identity.department_by_code(session, code, field="code"))


@router.post("/departments", response_model=DepartmentRead, status_code=201)
def create_department(
    session: DbSession,
    principal: Annotated[Principal, Depends(api(DEPARTMENT_MANAGE))],
    data: DepartmentCreate,
    response: Response,
) -> DepartmentRead:
    """Register a department."""
    department = identity.create_department(session, by=principal, data=data)
    response.headers["Location"] = f"/api/v1/departments/{department.code}"
    return DepartmentRead.model_validate(department)


@router.get("/users", response_model=Page[UserRead])
def list_users(session: DbSession, principal: Annotated[Principal, Depends(api(USER_READ))], params: Paging) -> dict:
    """Users the caller may see."""
    items, total = identity.list_users(session, by=principal, params=params)
    return page_body([identity.user_read(u) for u in items], total, params)


@router.get("/users/{username}", response_model=UserRead)
def get_user(session: DbSession, principal: Annotated[Principal, Depends(api(USER_READ))], username: str) -> UserRead:
    """One user."""
    return identity.user_read(identity.get_user(session, by=principal, username=username))


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(
    session: DbSession, principal: Annotated[Principal, Depends(api(USER_MANAGE))], data: UserCreate, response: Response
) -> UserRead:
    """Create a user with a role."""
    user = identity.create_user(session, by=principal, data=data)
    response.headers["Location"] = f"/api/v1/users/{user.username}"
    return identity.user_read(user)


@router.patch("/users/{username}", response_model=UserRead)
def update_user(
    session: DbSession, principal: Annotated[Principal, Depends(api(USER_MANAGE))], username: str, data: UserUpdate
) -> UserRead:
    """Change a user's role, department, name, password or active flag."""
    return identity.user_read(identity.update_user(session, by=principal, username=username, data=data))


@router.get("/tokens", response_model=Page[TokenRead])
def list_tokens(
    session: DbSession, principal: Annotated[Principal, Depends(api(TOKEN_MANAGE))], params: Paging
) -> dict:
    """API tokens of the caller's department (all, for platform admins)."""
    items, total = tokens.list_tokens(session, by=principal, params=params)
    return page_body([tokens.token_read(t) for t in items], total, params)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(
    session: DbSession, principal: Annotated[Principal, Depends(api(TOKEN_MANAGE))], data: TokenCreate
) -> TokenCreated:
    """Issue a token; the secret is in this response only."""
    token, raw = tokens.create_token(session, by=principal, data=data)
    return TokenCreated(**tokens.token_read(token).model_dump(), token=raw)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(
    session: DbSession, principal: Annotated[Principal, Depends(api(TOKEN_MANAGE))], token_id: RowId
) -> TokenRead:
    """Revoke a token at once."""
    return tokens.token_read(tokens.revoke_token(session, by=principal, token_id=token_id))
