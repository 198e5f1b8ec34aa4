"""Console navigation: every module of the design, built or not yet."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from smartcity.platform.i18n import N_
from smartcity.platform.modules import Module

# The module map of docs/design: (name, label, plan section).
PLANNED_MODULES: tuple[tuple[str, str, str], ...] = (
    ("catalog", N_("Resource catalogue"), "四(二)1"),
    ("ingest", N_("Data collection"), "四(二)2"),
    ("registry", N_("Base registries"), "四(二)1"),
    ("exchange", N_("Sharing and open data"), "四(二)3"),
    ("iot", N_("IoT platform"), "四(一)4"),
    ("cases", N_("City management"), "四(五)1"),
    ("traffic", N_("Traffic"), "四(五)2"),
    ("health", N_("Health"), "四(四)1"),
    ("gov", N_("Government services"), "四(三)1"),
    ("welfare", N_("Elderly care"), "四(四)4"),
    ("food", N_("Food safety"), "四(四)3"),
    ("insight", N_("Decision support"), "四(三)2"),
    ("infra", N_("Infrastructure"), "四(一)1-3"),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    available: bool
    active: bool


def navigation(request: Request) -> dict[str, object]:
    """Template variables: the domain modules and the administration links the caller may open."""
    principal = getattr(request.state, "principal", None)
    installed: dict[str, Module] = {m.name: m for m in getattr(request.app.state, "modules", ())}
    path = request.url.path
    domain: list[NavLink] = []
    for name, label, _section in PLANNED_MODULES:
        module = installed.get(name)
        if module is None:
            domain.append(NavLink(label, f"/modules/{name}", False, path == f"/modules/{name}"))
            continue
        for item in module.nav:
            if principal is None or principal.can(item.permission):
                domain.append(NavLink(item.label, item.path, True, path.startswith(item.path)))
    admin: list[NavLink] = []
    for module in installed.values():
        if module.name in {n for n, _, _ in PLANNED_MODULES}:
            continue
        for item in module.nav:
            if principal is not None and principal.can(item.permission):
                admin.append(NavLink(item.label, item.path, True, path.startswith(item.path)))
    return {"nav_domain": domain, "nav_admin": admin}


def planned(name: str) -> tuple[str, str] | None:
    """Label and plan section of a planned module."""
    for planned_name, label, section in PLANNED_MODULES:
        if planned_name == name:
            return label, section
    return None
