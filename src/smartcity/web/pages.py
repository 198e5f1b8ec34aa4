"""Console shell routes: home, login/logout, language switch, not-yet-available modules, problem types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smartcity.config import get_settings
from smartcity.platform.console import add_context_processor, render
from smartcity.platform.console import redirect as redirect_to
from smartcity.platform.deps import DbSession, client_ip
from smartcity.platform.errors import PROBLEM_TYPES, NotFound
from smartcity.platform.geo import city_map
from smartcity.platform.i18n import N_, SUPPORTED_LOCALES
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.deps import ANON_COOKIE, SESSION_COOKIE, PublicFormRule, page
from smartcity.platform.identity.permissions import PROFILE_READ
from smartcity.platform.identity.principal import Principal
from smartcity.platform.middleware import LOCALE_COOKIE
from smartcity.platform.modules import Module
from smartcity.platform.permissions import PUBLIC
from smartcity.web.nav import PLANNED_MODULES, navigation, planned

router = APIRouter(include_in_schema=False)
add_context_processor(navigation)


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login or a language switch."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: Annotated[Principal, Depends(page(PROFILE_READ))]) -> Response:
    """The console home: the module map and the signed-in user."""
    installed = {m.name for m in request.app.state.modules}
    tiles = [(name, label, section, name in installed) for name, label, section in PLANNED_MODULES]
    return render(request, "home.html", {"tiles": tiles})


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(PublicFormRule())])
def login_submit(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the credentials and open a session."""
    result = identity.login(session, username=username.strip(), password=password, ip=client_ip(request))
    if result.cookie is None:
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "error": result.failure, "username": username},
            status_code=401,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        result.cookie,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=settings.session_hours * 3600,
    )
    response.delete_cookie(ANON_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, session: DbSession, principal: Annotated[Principal, Depends(page(PROFILE_READ))]
) -> Response:
    """End the session."""
    identity.logout(session, cookie=request.cookies.get(SESSION_COOKIE, ""), by=principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{locale}", dependencies=[Depends(PUBLIC)])
def switch_language(locale: str, next: str = Query("/")) -> Response:
    """Remember the chosen console language and go back."""
    if locale not in SUPPORTED_LOCALES:
        raise NotFound(N_("Unsupported language '{locale}'."), field="locale", locale=locale)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/modules/{name}", response_class=HTMLResponse)
def unavailable_module(
    request: Request, name: str, principal: Annotated[Principal, Depends(page(PROFILE_READ))]
) -> Response:
    """A planned module that this installation does not provide yet."""
    found = planned(name)
    if found is None:
        raise NotFound(N_("No module '{name}'."), name=name)
    if name in {m.name for m in request.app.state.modules}:
        return redirect_to(f"/{name}")
    label, section = found
    return render(request, "unavailable.html", {"label": label, "section": section})


@router.get("/problems", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
@router.get("/problems/{slug}", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
def problem_types(request: Request, slug: str | None = None) -> Response:
    """Documentation of the problem types (`type` member of problem+json responses)."""
    types = sorted(PROBLEM_TYPES.items())
    if slug is not None:
        types = [(s, c) for s, c in types if s == slug]
        if not types:
            raise NotFound(N_("No problem type '{slug}'."), slug=slug)
    return render(request, "problems.html", {"types": [(s, c.status, c.title, c.__doc__ or "") for s, c in types]})


@router.get("/healthz", dependencies=[Depends(PUBLIC)])
def health(session: DbSession) -> dict[str, str]:
    """Liveness and database reachability."""
    session.connection().exec_driver_sql("SELECT 1")
    return {"status": "ok"}


@router.get("/geo/towns.geojson", dependencies=[Depends(PUBLIC)])
def town_areas() -> Response:
    """The city's town areas (GeoJSON) that every map draws; the shipped ones are approximate."""
    body = json.dumps(city_map().geojson, ensure_ascii=False, separators=(",", ":"))
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "public, max-age=3600"})


module = Module(
    name="web", title=N_("Console"), pages=router, template_dirs=(str(Path(__file__).parent / "templates"),)
)
