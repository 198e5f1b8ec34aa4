"""The ASGI application: lists the modules and mounts what each contributes."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

import smartcity
from smartcity import catalog, exchange, ingest, iot, ngsild, registry, web
from smartcity.config import Settings, get_settings
from smartcity.ngsild.errors import NgsiLdError
from smartcity.ngsild.errors import problem_response as ngsild_problem
from smartcity.platform import events
from smartcity.platform.audit.module import module as audit_module
from smartcity.platform.console import add_template_dir, render
from smartcity.platform.errors import install_error_handlers
from smartcity.platform.identity.deps import LoginRequired
from smartcity.platform.identity.module import module as identity_module
from smartcity.platform.jobs import service as jobs
from smartcity.platform.jobs.worker import Worker
from smartcity.platform.middleware import BodyLimitMiddleware, ConcurrencyMiddleware, LocaleMiddleware
from smartcity.platform.modules import Module
from smartcity.platform.permissions import REGISTRY, api_routes, assert_every_route_guarded

MODULES: tuple[Module, ...] = (
    web.module,
    identity_module,
    audit_module,
    catalog.module,
    ingest.module,
    registry.module,
    exchange.module,
    iot.module,
    ngsild.module,
)

STATIC_DIR = Path(web.__file__).parent / "static"


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status_code=status)


async def _login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = "/login?next=" + quote(exc.next_path)
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _ngsild_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NgsiLdError)
    if exc.status_code == 415:  # the specification answers an unsupported media type with the status alone
        return Response(status_code=415)
    return ngsild_problem(exc, request)


def module_routers(modules: tuple[Module, ...]) -> list[APIRouter]:
    """The API and console routers of `modules`."""
    return [r for m in modules for r in (m.api, m.pages) if r is not None]


def declare_permissions(modules: tuple[Module, ...] = MODULES) -> None:
    """Register every module's permissions and job kinds (the app, the worker and the CLI all need them)."""
    for module in modules:
        REGISTRY.declare(module.permissions)
        jobs.register(module.jobs, module.periodic)
        events.register(module.reactions)


@asynccontextmanager
async def _with_worker(app: FastAPI) -> AsyncIterator[None]:
    worker = Worker()
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def create_served_app() -> FastAPI:
    """The app as `smartcity serve` runs it: with the background job worker unless SMARTCITY_RUN_WORKER=false."""
    app = create_app(with_worker=get_settings().run_worker)
    # The app's own objects (routes, schemas, catalogues, compiled statements) live as long as the process: keep
    # them out of the collector's full passes, which otherwise stall every request for 100 ms and more.
    gc.freeze()
    return app


def create_app(settings: Settings | None = None, *, with_worker: bool = False) -> FastAPI:
    """Build the app from MODULES; refuses to start if any route lacks a permission rule."""
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=_with_worker if with_worker else None,
        title="smartcity",
        version=smartcity.__version__,
        description="Smart city platform API: resource catalogue, identity and audit. "
        "Authenticate with an API token issued in the console (Authorization: Bearer …). "
        "Errors are RFC 9457 problem+json.",
    )
    app.state.modules = MODULES
    declare_permissions()
    for module in MODULES:
        for folder in module.template_dirs:
            add_template_dir(folder)
    # The routes go on the app's own router, flat: an included router is matched route by route on every request,
    # and twice (once to choose it, once to handle), which cost more than a data-service query.
    app.router.routes.extend(api_routes(module_routers(MODULES)))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app, _error_page)
    app.add_exception_handler(NgsiLdError, _ngsild_error)
    app.add_exception_handler(LoginRequired, _login_redirect)
    streamed = [pattern for module in MODULES for pattern in module.streamed_uploads]
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, streamed=streamed)
    app.add_middleware(LocaleMiddleware, default_locale=settings.default_locale)
    app.add_middleware(ConcurrencyMiddleware, limit=settings.server_concurrency, exempt=streamed)
    assert_every_route_guarded(module_routers(MODULES))
    return app
