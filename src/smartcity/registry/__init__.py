"""Base registries (基础库): persons, legal entities and standard addresses as golden records."""

from pathlib import Path
from typing import Any

from smartcity.db import unit_of_work
from smartcity.ingest import service as hub
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.jobs import service as jobs
from smartcity.platform.jobs.service import JobKind, PeriodicTask
from smartcity.platform.modules import Module, NavItem
from smartcity.registry import service as registry
from smartcity.registry.api import router as api_router
from smartcity.registry.cli import app as cli_app
from smartcity.registry.pages import router as page_router
from smartcity.registry.permissions import PERMISSIONS, REGISTRY_READ
from smartcity.registry.service import RESOLVE_JOB
from smartcity.registry.vocab import Kind


def _resolve_job(payload: dict[str, Any]) -> None:
    with unit_of_work() as session:
        registry.start_resolution(session, by=identity.system_principal("registry"), kind=Kind(payload["kind"]))


def _enqueue_due() -> None:
    """Queue a resolution of every registry whose feeds received data since its last resolution began."""
    worker = identity.system_principal("registry")
    with unit_of_work() as session:
        for kind, (codes, since) in registry.feed_freshness(session, by=worker).items():
            loads = hub.last_loads(session, codes)
            if loads and (since is None or max(loads.values()) > since):
                jobs.enqueue(session, RESOLVE_JOB, {"kind": kind.value}, dedupe_key=f"{RESOLVE_JOB}:{kind.value}")


module = Module(
    name="registry",
    title=N_("Base registries"),
    permissions=PERMISSIONS,
    api=api_router,
    pages=page_router,
    cli=cli_app,
    nav=(NavItem(N_("Base registries"), "/registry", REGISTRY_READ),),
    template_dirs=(str(Path(__file__).parent / "templates"),),
    jobs=(JobKind(RESOLVE_JOB, _resolve_job, max_attempts=1),),
    periodic=(PeriodicTask("registry.due", 300.0, _enqueue_due),),
)
