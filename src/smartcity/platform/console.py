"""Server-rendered console pages: one Jinja environment, template folders added by modules."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from pydantic import ValidationError

from smartcity.config import get_settings
from smartcity.platform.csrf import csrf_token
from smartcity.platform.errors import DomainError, request_locale, validation_problems
from smartcity.platform.i18n import translator
from smartcity.platform.identity.deps import ANON_COOKIE, CSRF_FIELD, csrf_binding

DISPLAY_TZ = ZoneInfo("Asia/Shanghai")
ContextProcessor = Callable[[Request], dict[str, Any]]
SlotRenderer = Callable[[dict[str, Any]], str]
FLASH_COOKIE = "sc_flash"

_template_dirs: list[FileSystemLoader] = []
_loader = ChoiceLoader(_template_dirs)
environment = Environment(loader=_loader, autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
_processors: list[ContextProcessor] = []
_slots: dict[str, list[SlotRenderer]] = {}


def add_template_dir(path: str) -> None:
    """Make templates under `path` available (each module adds its own `templates/`)."""
    if not any(path in loader.searchpath for loader in _template_dirs):
        _template_dirs.append(FileSystemLoader(path))


def add_context_processor(processor: ContextProcessor) -> None:
    """Add variables to every rendered page (the console shell adds its navigation)."""
    if processor not in _processors:
        _processors.append(processor)


def add_slot(name: str, renderer: SlotRenderer) -> None:
    """Let a module add HTML to a named place in another module's page (e.g. links on a catalogue entry).

    The renderer gets the template's variables and returns HTML that it has escaped itself.
    """
    renderers = _slots.setdefault(name, [])
    if renderer not in renderers:
        renderers.append(renderer)


@pass_context
def _render_slot(context: Context, name: str, **values: Any) -> Markup:
    variables = {**context.get_all(), **values}
    return Markup("".join(renderer(variables) for renderer in _slots.get(name, ())))


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC datetime shown in Asia/Shanghai time."""
    return "" if value is None else value.astimezone(DISPLAY_TZ).strftime(fmt)


def readable_json(value: object) -> str:
    """Compact JSON that keeps Chinese characters readable (Jinja's tojson escapes them)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


environment.filters["local_time"] = local_time
environment.filters["readable_json"] = readable_json
environment.globals["slot"] = _render_slot


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """Render a console page with the shell's variables (locale, user, CSRF token, navigation)."""
    locale = request_locale(request)
    binding = csrf_binding(request)
    new_anon = None
    if binding is None:
        new_anon = binding = secrets.token_urlsafe(24)
    values: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "_": translator(locale),
        "principal": getattr(request.state, "principal", None),
        "csrf_token": csrf_token(get_settings().secret_key, binding),
        "csrf_field": CSRF_FIELD,
        "flash": translator(locale)(unquote(request.cookies[FLASH_COOKIE]))
        if FLASH_COOKIE in request.cookies
        else None,
    }
    for processor in _processors:
        values.update(processor(request))
    values.update(context or {})
    html = environment.get_template(name).render(values)
    response = HTMLResponse(html, status_code=status_code)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE)
    if new_anon:
        response.set_cookie(ANON_COOKIE, new_anon, httponly=True, samesite="lax", secure=get_settings().cookie_secure)
    return response


def redirect(url: str, *, flash: str | None = None) -> RedirectResponse:
    """A 303 redirect after a console form; `flash` (a message id) is shown once on the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash), httponly=True, samesite="lax", max_age=60)
    return response


def form_errors(exc: ValidationError | DomainError, locale: str) -> dict[str, str]:
    """Field path → message in `locale`, for showing beside a form's inputs."""
    if isinstance(exc, DomainError):
        return {exc.field or "_form": exc.localised_detail(locale)}
    errors: dict[str, str] = {}
    for problem in validation_problems(exc.errors(), locale):
        errors.setdefault(problem.field if problem.field != "body" else "_form", problem.message)
    return errors
