"""Route rules: who the caller is and whether they may call this route (API and console)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.platform.csrf import csrf_valid
from smartcity.platform.deps import DbSession, client_ip
from smartcity.platform.errors import NotAuthenticated, PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.service import principal_from_session
from smartcity.platform.identity.tokens import principal_from_token
from smartcity.platform.permissions import RouteRule

SESSION_COOKIE = "sc_session"
ANON_COOKIE = "sc_anon"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="ApiToken", description="An API token issued in the console: `sct_<key>_<secret>`."
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


class LoginRequired(Exception):
    """A console page was opened without a live session; the console redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def bearer_principal(session: Session, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The principal of the request's bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise NotAuthenticated(N_("Send an API token in the header 'Authorization: Bearer <token>'."))
    return principal_from_token(session, raw=credentials.credentials.strip(), ip=client_ip(request))


def csrf_binding(request: Request) -> str | None:
    """The cookie a console form's CSRF token is bound to: the session, or before login the browser cookie."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)


async def check_csrf(request: Request, binding: str | None) -> None:
    """Refuse an unsafe console request whose CSRF token does not match the browser's cookie."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf_valid(get_settings().secret_key, binding, presented):
        raise PermissionDenied(
            N_("The form's security token is missing or out of date; reload the page and try again.")
        )


class ApiRule(RouteRule):
    """An API route that needs a bearer token holding `permission`."""

    def __init__(self, permission: str) -> None:
        self.permission: str = permission

    def __call__(self, request: Request, session: DbSession, credentials: Credentials) -> Principal:
        principal = bearer_principal(session, request, credentials)
        principal.require(self.permission)
        request.state.principal = principal
        return principal


class PageRule(RouteRule):
    """A console page that needs a signed-in user holding `permission`; unsafe methods need CSRF."""

    def __init__(self, permission: str) -> None:
        self.permission: str = permission

    async def __call__(self, request: Request, session: DbSession) -> Principal:
        cookie = request.cookies.get(SESSION_COOKIE)
        principal = principal_from_session(session, cookie=cookie, ip=client_ip(request)) if cookie else None
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target if request.method in SAFE_METHODS else "/")
        if request.method not in SAFE_METHODS:
            await check_csrf(request, cookie)
        request.state.principal = principal
        principal.require(self.permission)
        return principal


class PublicFormRule(RouteRule):
    """A public console form (the login form): no session needed, but CSRF-checked against the pre-login cookie."""

    public = True

    async def __call__(self, request: Request) -> None:
        if request.method not in SAFE_METHODS:
            await check_csrf(request, csrf_binding(request))


def api(permission: str) -> ApiRule:
    """The rule for an API route needing `permission`."""
    return ApiRule(permission)


def page(permission: str) -> PageRule:
    """The rule for a console page needing `permission`."""
    return PageRule(permission)
