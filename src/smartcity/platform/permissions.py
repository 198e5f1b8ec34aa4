"""Roles, the permission registry that modules fill, and the rule every route must carry."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from smartcity.platform.i18n import N_


class Role(enum.StrEnum):
    """What a user is to the platform."""

    PLATFORM_ADMIN = "platform_admin"
    DEPT_ADMIN = "dept_admin"
    DEPT_STAFF = "dept_staff"
    AUDITOR = "auditor"


ROLE_LABELS = {
    Role.PLATFORM_ADMIN: N_("Platform administrator"),
    Role.DEPT_ADMIN: N_("Department administrator"),
    Role.DEPT_STAFF: N_("Department staff"),
    Role.AUDITOR: N_("Auditor"),
}

ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Permission:
    """A named capability (`catalog.write`) and the roles that hold it."""

    name: str
    description: str
    roles: frozenset[Role]
    token_scope: bool = True  # may be granted to an API token


@dataclass
class PermissionRegistry:
    """Every permission the installed modules declare."""

    permissions: dict[str, Permission] = field(default_factory=dict)
    # Every request asks for its caller's role; the answers change only when a module declares permissions.
    _by_role: dict[tuple[Role, bool], frozenset[str]] = field(default_factory=dict)

    def declare(self, permissions: Iterable[Permission]) -> None:
        for permission in permissions:
            existing = self.permissions.get(permission.name)
            if existing is not None and existing != permission:
                raise ValueError(f"permission {permission.name} declared twice with different rules")
            self.permissions[permission.name] = permission
        self._by_role.clear()

    def _of(self, role: Role, tokens_only: bool) -> frozenset[str]:
        key = (role, tokens_only)
        if key not in self._by_role:
            self._by_role[key] = frozenset(
                n for n, p in self.permissions.items() if role in p.roles and (p.token_scope or not tokens_only)
            )
        return self._by_role[key]

    def for_role(self, role: Role) -> frozenset[str]:
        return self._of(role, False)

    def token_scopes_for_role(self, role: Role) -> frozenset[str]:
        return self._of(role, True)


REGISTRY = PermissionRegistry()


class RouteRule:
    """Marker base of the dependency that guards a route; `assert_every_route_guarded` looks for it."""

    permission: str | None = None
    public: bool = False


class PublicRoute(RouteRule):
    """A route anyone may call (login page, health check, static docs)."""

    public = True

    def __call__(self) -> None:
        return None


PUBLIC = PublicRoute()


def route_rules(dependant: Dependant) -> list[RouteRule]:
    """The RouteRule dependencies anywhere in a route's dependency tree."""
    found: list[RouteRule] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        if isinstance(current.call, RouteRule):
            found.append(current.call)
        stack.extend(current.dependencies)
    return found


def route_rule(route: APIRoute) -> RouteRule | None:
    """The single rule guarding `route`, or None."""
    rules = route_rules(route.dependant)
    return rules[0] if len(rules) == 1 else None


def api_routes(routers: Iterable[APIRouter]) -> list[APIRoute]:
    """Every route of `routers` (the modules' API and console routers), and of the routers they include."""
    found: list[APIRoute] = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif isinstance(included := getattr(route, "original_router", None), APIRouter):
                found += api_routes([included])
    return found


def unguarded_routes(routers: Iterable[APIRouter]) -> list[str]:
    """'METHOD path' of every route without exactly one rule, or whose permission nobody declared."""
    problems = []
    for route in api_routes(routers):
        rules = route_rules(route.dependant)
        label = f"{','.join(sorted(route.methods or ()))} {route.path}"
        if len(rules) != 1:
            problems.append(f"{label}: {len(rules)} permission rules")
        elif not rules[0].public and rules[0].permission not in REGISTRY.permissions:
            problems.append(f"{label}: undeclared permission {rules[0].permission}")
    return problems


def assert_every_route_guarded(routers: Iterable[APIRouter]) -> None:
    """Refuse to start an app that has a route without a permission rule."""
    problems = unguarded_routes(routers)
    if problems:
        raise RuntimeError("routes without a permission rule: " + "; ".join(problems))
