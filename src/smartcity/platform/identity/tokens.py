"""API tokens for department systems: issued once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from smartcity.db import utcnow, write_beside
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import InvalidInput, NotAuthenticated, NotFound
from smartcity.platform.i18n import N_
from smartcity.platform.identity.models import ApiToken, Department, User
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.schemas import TokenCreate, TokenRead
from smartcity.platform.identity.service import token_digest
from smartcity.platform.paging import PageParams, fetch_page
from smartcity.platform.permissions import REGISTRY, Role

PREFIX = "sct"
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def token_read(token: ApiToken) -> TokenRead:
    """The public view of a token (never its secret)."""
    return TokenRead(
        id=token.id,
        key_id=token.key_id,
        name=token.name,
        owner=token.user.username,
        department=token.user.department.code if token.user.department else None,
        scopes=list(token.scopes),
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        created_at=token.created_at,
    )


def readable_tokens(principal: Principal) -> Select[ApiToken]:
    """Tokens the caller may see: all for platform admins, their department's otherwise."""
    stmt = select(ApiToken).join(User, User.id == ApiToken.user_id)
    if principal.is_platform_admin:
        return stmt
    return stmt.where(User.department_id == principal.department_id)


def list_tokens(session: Session, *, by: Principal, params: PageParams) -> tuple[list[ApiToken], int]:
    """A page of tokens, newest first."""
    return fetch_page(session, readable_tokens(by).order_by(ApiToken.id.desc()), params)


def create_token(session: Session, *, by: Principal, data: TokenCreate) -> tuple[ApiToken, str]:
    """Issue a token owned by the caller; its scopes cannot exceed what the caller's role may delegate."""
    allowed = REGISTRY.token_scopes_for_role(by.role)
    for index, scope in enumerate(data.scopes):
        if scope not in allowed:
            raise InvalidInput(
                N_("Scope '{scope}' is unknown or cannot be delegated by your role."),
                field=f"scopes.{index}",
                scope=scope,
            )
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        key_id=key_id,
        secret_hash=token_digest(secret),
        name=data.name,
        user_id=by.user_id,
        scopes=sorted(set(data.scopes)),
        expires_at=utcnow() + dt.timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    session.add(token)
    session.flush()
    session.refresh(token)
    audit.record(
        session,
        actor=by.actor(),
        action="identity.token.create",
        target_type="api_token",
        target_id=key_id,
        detail={"name": data.name, "scopes": token.scopes, "expires_at": token.expires_at},
    )
    return token, f"{PREFIX}_{key_id}_{secret}"


def revoke_token(session: Session, *, by: Principal, token_id: int) -> ApiToken:
    """Revoke a token the caller may see; revoking twice is harmless."""
    token = session.scalars(readable_tokens(by).where(ApiToken.id == token_id)).one_or_none()
    if token is None:
        raise NotFound(N_("No API token {token_id}."), token_id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session, actor=by.actor(), action="identity.token.revoke", target_type="api_token", target_id=token.key_id
        )
    return token


_T, _U, _D = ApiToken.__table__, User.__table__, Department.__table__
_PRESENTED = (
    select(
        _T.c.id,
        _T.c.secret_hash,
        _T.c.scopes,
        _T.c.expires_at,
        _T.c.revoked_at,
        _T.c.last_used_at,
        _U.c.id.label("user_id"),
        _U.c.username,
        _U.c.display_name,
        _U.c.role,
        _U.c.department_id,
        _U.c.is_active,
        _D.c.code.label("department_code"),
    )
    .join(_U, _U.c.id == _T.c.user_id)
    .outerjoin(_D, _D.c.id == _U.c.department_id)
    .where(_T.c.key_id == bindparam("key_id"))
)
_USED = update(ApiToken).where(ApiToken.id == bindparam("token_id")).values(last_used_at=bindparam("now"))


def principal_from_token(session: Session, *, raw: str, ip: str | None) -> Principal:
    """The principal a presented bearer token acts as; unknown, revoked and expired tokens are refused.

    One plain statement on the session's connection (every API call asks it), and a write of the token's last use
    at most once a minute."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise NotAuthenticated(N_("The bearer token is malformed."))
    token = session.connection().execute(_PRESENTED, {"key_id": parts[1]}).first()
    if token is None or not hmac.compare_digest(token.secret_hash, token_digest(parts[2])):
        raise NotAuthenticated(N_("The bearer token is not valid."))
    now = utcnow()
    if token.revoked_at is not None:
        raise NotAuthenticated(N_("The bearer token was revoked."))
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthenticated(N_("The bearer token expired."))
    if not token.is_active:
        raise NotAuthenticated(N_("The owner of this token is deactivated."))
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        write_beside(session, lambda writer: writer.connection().execute(_USED, {"token_id": token.id, "now": now}))
    role = Role(token.role)
    return Principal(
        user_id=token.user_id,
        username=token.username,
        display_name=token.display_name,
        role=role,
        department_id=token.department_id,
        department_code=token.department_code,
        permissions=frozenset(token.scopes) & REGISTRY.token_scopes_for_role(role),
        token_id=token.id,
        ip=ip,
    )
