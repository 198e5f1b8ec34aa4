"""Every route × every role: the expected allow/deny, so a new route without a rule fails here.

The tables below are written by hand on purpose: they are the specification the routes must meet,
not a copy of what the code declares.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from smartcity.app import MODULES, module_routers
from smartcity.config import get_settings
from smartcity.platform.csrf import csrf_token
from smartcity.platform.identity import service as identity
from smartcity.platform.identity import tokens
from smartcity.platform.identity.schemas import TokenCreate
from smartcity.platform.permissions import PublicRoute, Role, api_routes, route_rule, unguarded_routes
from tests.factories import PASSWORD, make_department, make_entry, make_token, make_user, principal

PA, DA, DS, AU = Role.PLATFORM_ADMIN, Role.DEPT_ADMIN, Role.DEPT_STAFF, Role.AUDITOR
EVERYONE = frozenset(Role)
PUBLIC = "public"

# Which roles hold each permission.
HOLDERS: dict[str, frozenset[Role]] = {
    "identity.profile.read": EVERYONE,
    "identity.department.read": EVERYONE,
    "identity.department.manage": frozenset({PA}),
    "identity.user.read": frozenset({PA, DA, AU}),
    "identity.user.manage": frozenset({PA, DA}),
    "identity.token.manage": frozenset({PA, DA}),
    "audit.read": frozenset({PA, AU}),
    "audit.verify": frozenset({PA, AU}),
    "catalog.read": EVERYONE,
    "catalog.write": frozenset({PA, DA}),
    "ingest.read": EVERYONE,
    "ingest.submit": frozenset({PA, DA}),
    "ingest.rules": frozenset({PA, DA}),
    "ingest.feedback.respond": frozenset({PA, DA}),
    "ingest.feedback.review": frozenset({PA}),
    "ingest.pull": frozenset({PA, DA}),
    "ingest.codetables": frozenset({PA}),
    "registry.read": EVERYONE,
    "registry.read_plain": frozenset({PA}),
    "registry.review": frozenset({PA}),
    "registry.manage": frozenset({PA}),
    "exchange.read": EVERYONE,
    "exchange.request": frozenset({DA}),
    "exchange.decide": frozenset({DA}),
    "exchange.data": frozenset({DA, DS}),
    "exchange.subscribe": frozenset({PA, DA}),
    "exchange.oversee": frozenset({PA}),
    "iot.read": EVERYONE,
    "iot.manage": frozenset({PA, DA}),
    "iot.oversee": frozenset({PA, AU}),
    "iot.alarms": frozenset({PA, DA, DS}),
    "ngsild.read": EVERYONE,
    "ngsild.write": frozenset({PA, DA, DS}),
    "ngsild.manage": frozenset({PA}),
}

# Every route of the platform and the permission it needs.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): "identity.profile.read",
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): "identity.profile.read",
    ("GET", "/lang/{locale}"): PUBLIC,
    ("GET", "/modules/{name}"): "identity.profile.read",
    ("GET", "/problems"): PUBLIC,
    ("GET", "/problems/{slug}"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/geo/towns.geojson"): PUBLIC,
    ("GET", "/api/v1/me"): "identity.profile.read",
    ("GET", "/api/v1/departments"): "identity.department.read",
    ("GET", "/api/v1/departments/{code}"): "identity.department.read",
    ("POST", "/api/v1/departments"): "identity.department.manage",
    ("GET", "/api/v1/users"): "identity.user.read",
    ("GET", "/api/v1/users/{username}"): "identity.user.read",
    ("POST", "/api/v1/users"): "identity.user.manage",
    ("PATCH", "/api/v1/users/{username}"): "identity.user.manage",
    ("GET", "/api/v1/tokens"): "identity.token.manage",
    ("POST", "/api/v1/tokens"): "identity.token.manage",
    ("DELETE", "/api/v1/tokens/{token_id}"): "identity.token.manage",
    ("GET", "/admin/departments"): "identity.department.read",
    ("POST", "/admin/departments"): "identity.department.manage",
    ("GET", "/admin/users"): "identity.user.read",
    ("POST", "/admin/users"): "identity.user.manage",
    ("GET", "/admin/users/{username}"): "identity.user.read",
    ("POST", "/admin/users/{username}"): "identity.user.manage",
    ("GET", "/admin/tokens"): "identity.token.manage",
    ("POST", "/admin/tokens"): "identity.token.manage",
    ("POST", "/admin/tokens/{token_id}/revoke"): "identity.token.manage",
    ("GET", "/api/v1/audit/entries"): "audit.read",
    ("GET", "/api/v1/audit/verify"): "audit.verify",
    ("GET", "/admin/audit"): "audit.read",
    ("GET", "/admin/audit/verify"): "audit.verify",
    ("GET", "/api/v1/catalog/entries"): "catalog.read",
    ("POST", "/api/v1/catalog/entries"): "catalog.write",
    ("GET", "/api/v1/catalog/dcat"): "catalog.read",
    ("GET", "/api/v1/catalog/entries/{code}"): "catalog.read",
    ("PATCH", "/api/v1/catalog/entries/{code}"): "catalog.write",
    ("GET", "/api/v1/catalog/entries/{code}/versions"): "catalog.read",
    ("GET", "/api/v1/catalog/entries/{code}/versions/{version}"): "catalog.read",
    ("GET", "/api/v1/catalog/entries/{code}/dcat"): "catalog.read",
    ("GET", "/catalog"): "catalog.read",
    ("GET", "/catalog/dcat"): "catalog.read",
    ("GET", "/catalog/{code}/dcat"): "catalog.read",
    ("GET", "/catalog/new"): "catalog.write",
    ("POST", "/catalog/new"): "catalog.write",
    ("GET", "/catalog/{code}"): "catalog.read",
    ("GET", "/catalog/{code}/versions/{version}"): "catalog.read",
    ("GET", "/catalog/{code}/edit"): "catalog.write",
    ("POST", "/catalog/{code}/edit"): "catalog.write",
    ("POST", "/api/v1/catalog/entries/{code}/versions/{version}/retire"): "catalog.write",
    ("POST", "/catalog/{code}/versions/{version}/retire"): "catalog.write",
    # data collection: API
    ("POST", "/api/v1/ingest/entries/{code}/batches"): "ingest.submit",
    ("GET", "/api/v1/ingest/batches"): "ingest.read",
    ("GET", "/api/v1/ingest/batches/{batch_id}"): "ingest.read",
    ("GET", "/api/v1/ingest/batches/{batch_id}/report"): "ingest.read",
    ("GET", "/api/v1/ingest/batches/{batch_id}/rejected"): "ingest.read",
    ("GET", "/api/v1/ingest/batches/{batch_id}/rejected.csv"): "ingest.read",
    ("GET", "/api/v1/ingest/batches/{batch_id}/mapping"): "ingest.read",
    ("PUT", "/api/v1/ingest/batches/{batch_id}/mapping"): "ingest.submit",
    ("POST", "/api/v1/ingest/batches/{batch_id}/rerun"): "ingest.submit",
    ("DELETE", "/api/v1/ingest/batches/{batch_id}"): "ingest.submit",
    ("GET", "/api/v1/ingest/entries/{code}/mapping"): "ingest.read",
    ("PUT", "/api/v1/ingest/entries/{code}/mapping"): "ingest.rules",
    ("GET", "/api/v1/ingest/entries/{code}/rules"): "ingest.read",
    ("POST", "/api/v1/ingest/entries/{code}/rules"): "ingest.rules",
    ("GET", "/api/v1/ingest/entries/{code}/rules/suggestions"): "ingest.read",
    ("POST", "/api/v1/ingest/entries/{code}/rules/suggestions"): "ingest.rules",
    ("PUT", "/api/v1/ingest/entries/{code}/rules/{rule_id}"): "ingest.rules",
    ("DELETE", "/api/v1/ingest/entries/{code}/rules/{rule_id}"): "ingest.rules",
    ("GET", "/api/v1/ingest/code-tables"): "ingest.read",
    ("GET", "/api/v1/ingest/code-tables/{name}"): "ingest.read",
    ("PUT", "/api/v1/ingest/code-tables/{name}"): "ingest.codetables",
    ("GET", "/api/v1/ingest/feedback"): "ingest.read",
    ("GET", "/api/v1/ingest/feedback/{item_id}"): "ingest.read",
    ("POST", "/api/v1/ingest/feedback/{item_id}/dispute"): "ingest.feedback.respond",
    ("POST", "/api/v1/ingest/feedback/{item_id}/{decision}"): "ingest.feedback.review",
    ("GET", "/api/v1/ingest/quality"): "ingest.read",
    ("GET", "/api/v1/ingest/pulls"): "ingest.read",
    ("POST", "/api/v1/ingest/pulls"): "ingest.pull",
    ("GET", "/api/v1/ingest/pulls/{pull_id}"): "ingest.read",
    ("PATCH", "/api/v1/ingest/pulls/{pull_id}"): "ingest.pull",
    ("DELETE", "/api/v1/ingest/pulls/{pull_id}"): "ingest.pull",
    ("POST", "/api/v1/ingest/pulls/{pull_id}/run"): "ingest.pull",
    # data collection: console
    ("GET", "/ingest"): "ingest.read",
    ("GET", "/ingest/new"): "ingest.submit",
    ("POST", "/ingest/upload"): "ingest.submit",
    ("GET", "/ingest/batches/{batch_id}"): "ingest.read",
    ("GET", "/ingest/batches/{batch_id}/progress"): "ingest.read",
    ("GET", "/ingest/batches/{batch_id}/mapping"): "ingest.read",
    ("POST", "/ingest/batches/{batch_id}/mapping"): "ingest.submit",
    ("POST", "/ingest/batches/{batch_id}/discard"): "ingest.submit",
    ("POST", "/ingest/batches/{batch_id}/rerun"): "ingest.submit",
    ("GET", "/ingest/batches/{batch_id}/rejected"): "ingest.read",
    ("GET", "/ingest/batches/{batch_id}/rejected.csv"): "ingest.read",
    ("GET", "/ingest/batches/{batch_id}/report.json"): "ingest.read",
    ("GET", "/ingest/entries/{code}/rules"): "ingest.read",
    ("POST", "/ingest/entries/{code}/rules"): "ingest.rules",
    ("POST", "/ingest/entries/{code}/rules/{rule_id}"): "ingest.rules",
    ("POST", "/ingest/entries/{code}/rules/{rule_id}/delete"): "ingest.rules",
    ("POST", "/ingest/entries/{code}/suggestions"): "ingest.rules",
    ("GET", "/ingest/feedback"): "ingest.read",
    ("POST", "/ingest/feedback/{item_id}/dispute"): "ingest.feedback.respond",
    ("POST", "/ingest/feedback/{item_id}/{decision}"): "ingest.feedback.review",
    ("POST", "/ingest/feedback-verify-corrected"): "ingest.feedback.review",
    ("GET", "/api/v1/registry/{kind}/records"): "registry.read",
    ("GET", "/api/v1/registry/{kind}/records/{number}"): "registry.read",
    ("GET", "/api/v1/registry/{kind}/unmatched-addresses"): "registry.read",
    ("GET", "/api/v1/registry/{kind}/review"): "registry.review",
    ("POST", "/api/v1/registry/{kind}/review/{pair_id}"): "registry.review",
    ("GET", "/api/v1/registry/{kind}/feeds"): "registry.read",
    ("PUT", "/api/v1/registry/{kind}/feeds"): "registry.manage",
    ("GET", "/api/v1/registry/{kind}/survivorship"): "registry.read",
    ("PUT", "/api/v1/registry/{kind}/survivorship"): "registry.manage",
    ("POST", "/api/v1/registry/{kind}/runs"): "registry.manage",
    ("GET", "/api/v1/registry/{kind}/runs"): "registry.read",
    ("GET", "/api/v1/registry/addresses/parse"): "registry.read",
    ("GET", "/registry"): "registry.read",
    ("GET", "/registry/{kind}"): "registry.read",
    ("GET", "/registry/{kind}/records/{number}"): "registry.read",
    ("GET", "/registry/{kind}/review"): "registry.review",
    ("POST", "/registry/{kind}/review/{pair_id}"): "registry.review",
    ("GET", "/registry/{kind}/unmatched"): "registry.read",
    ("GET", "/registry/addresses/parse"): "registry.read",
    ("GET", "/registry/{kind}/feeds"): "registry.manage",
    ("POST", "/registry/{kind}/feeds"): "registry.manage",
    ("POST", "/registry/{kind}/survivorship"): "registry.manage",
    ("POST", "/registry/{kind}/runs"): "registry.manage",
    ("GET", "/ingest/quality"): "ingest.read",
    ("GET", "/ingest/pulls"): "ingest.read",
    ("POST", "/ingest/pulls"): "ingest.pull",
    ("POST", "/ingest/pulls/{pull_id}/run"): "ingest.pull",
    ("POST", "/ingest/pulls/{pull_id}/toggle"): "ingest.pull",
    ("POST", "/ingest/pulls/{pull_id}/delete"): "ingest.pull",
    ("GET", "/ingest/code-tables"): "ingest.read",
    ("POST", "/ingest/code-tables"): "ingest.codetables",
    ("GET", "/api"): PUBLIC,
    ("GET", "/api/3"): PUBLIC,
    ("GET", "/api/3/action/{name}"): PUBLIC,
    ("POST", "/api/3/action/{name}"): PUBLIC,
    ("GET", "/api/action/{name}"): PUBLIC,
    ("POST", "/api/action/{name}"): PUBLIC,
    ("GET", "/api/v1/exchange/data/{code}"): "exchange.data",
    ("GET", "/api/v1/exchange/data/{code}/records/{key:path}"): "exchange.data",
    ("GET", "/api/v1/exchange/deliveries"): "exchange.read",
    ("POST", "/api/v1/exchange/deliveries/{delivery_id}/redeliver"): "exchange.subscribe",
    ("GET", "/api/v1/exchange/grants"): "exchange.read",
    ("GET", "/api/v1/exchange/grants/{number}"): "exchange.read",
    ("POST", "/api/v1/exchange/grants/{number}/revoke"): "exchange.decide",
    ("GET", "/api/v1/exchange/requests"): "exchange.read",
    ("POST", "/api/v1/exchange/requests"): "exchange.request",
    ("GET", "/api/v1/exchange/requests/{number}"): "exchange.read",
    ("POST", "/api/v1/exchange/requests/{number}/decision"): "exchange.decide",
    ("POST", "/api/v1/exchange/requests/{number}/withdraw"): "exchange.request",
    ("GET", "/api/v1/exchange/subscriptions"): "exchange.read",
    ("POST", "/api/v1/exchange/subscriptions"): "exchange.subscribe",
    ("DELETE", "/api/v1/exchange/subscriptions/{subscription_id}"): "exchange.subscribe",
    ("GET", "/exchange"): "exchange.read",
    ("GET", "/exchange/deliveries"): "exchange.read",
    ("POST", "/exchange/deliveries/{delivery_id}/redeliver"): "exchange.subscribe",
    ("GET", "/exchange/grants"): "exchange.read",
    ("GET", "/exchange/grants/{number}"): "exchange.read",
    ("POST", "/exchange/grants/{number}/revoke"): "exchange.decide",
    ("GET", "/exchange/requests"): "exchange.read",
    ("POST", "/exchange/requests"): "exchange.request",
    ("GET", "/exchange/requests/new"): "exchange.request",
    ("GET", "/exchange/requests/{number}"): "exchange.read",
    ("POST", "/exchange/requests/{number}/decision"): "exchange.decide",
    ("POST", "/exchange/requests/{number}/withdraw"): "exchange.request",
    ("GET", "/exchange/subscriptions"): "exchange.read",
    ("POST", "/exchange/subscriptions"): "exchange.subscribe",
    ("POST", "/exchange/subscriptions/{subscription_id}/end"): "exchange.subscribe",
    ("GET", "/api/v1/iot/types"): "iot.read",
    ("GET", "/api/v1/iot/devices"): "iot.read",
    ("GET", "/api/v1/iot/map"): "iot.read",
    ("POST", "/api/v1/iot/devices"): "iot.manage",
    ("POST", "/api/v1/iot/devices/import"): "iot.manage",
    ("GET", "/api/v1/iot/devices/{code}"): "iot.read",
    ("PATCH", "/api/v1/iot/devices/{code}"): "iot.manage",
    ("POST", "/api/v1/iot/devices/{code}/credential"): "iot.manage",
    ("GET", "/api/v1/iot/devices/{code}/series"): "iot.read",
    ("GET", "/api/v1/iot/rejections"): "iot.read",
    ("GET", "/api/v1/iot/rules"): "iot.read",
    ("POST", "/api/v1/iot/rules"): "iot.manage",
    ("PATCH", "/api/v1/iot/rules/{rule_id}"): "iot.manage",
    ("GET", "/api/v1/iot/alarms"): "iot.read",
    ("POST", "/api/v1/iot/alarms/{alarm_id}/acknowledge"): "iot.alarms",
    ("POST", "/api/v1/iot/alarms/{alarm_id}/clear"): "iot.alarms",
    ("POST", "/api/v1/iot/telemetry/{code}"): PUBLIC,
    ("GET", "/iot"): "iot.read",
    ("GET", "/iot/map"): "iot.read",
    ("GET", "/iot/map.geojson"): "iot.read",
    ("GET", "/iot/devices/{code}"): "iot.read",
    ("GET", "/iot/alarms"): "iot.read",
    ("POST", "/iot/alarms/{alarm_id}/acknowledge"): "iot.alarms",
    ("POST", "/iot/alarms/{alarm_id}/clear"): "iot.alarms",
    ("GET", "/iot/rejections"): "iot.read",  # the device's own credential, checked per message
    ("POST", "/ngsi-ld/v1/entities"): "ngsild.write",
    ("GET", "/ngsi-ld/v1/entities"): "ngsild.read",
    ("GET", "/ngsi-ld/v1/entities/{entity_id}"): "ngsild.read",
    ("DELETE", "/ngsi-ld/v1/entities/{entity_id}"): "ngsild.write",
    ("PUT", "/ngsi-ld/v1/entities/{entity_id}"): "ngsild.write",
    ("PATCH", "/ngsi-ld/v1/entities/{entity_id}"): "ngsild.write",
    ("POST", "/ngsi-ld/v1/entities/{entity_id}/attrs"): "ngsild.write",
    ("PATCH", "/ngsi-ld/v1/entities/{entity_id}/attrs"): "ngsild.write",
    ("PATCH", "/ngsi-ld/v1/entities/{entity_id}/attrs/{attr}"): "ngsild.write",
    ("PUT", "/ngsi-ld/v1/entities/{entity_id}/attrs/{attr}"): "ngsild.write",
    ("DELETE", "/ngsi-ld/v1/entities/{entity_id}/attrs/{attr}"): "ngsild.write",
    ("POST", "/ngsi-ld/v1/entityOperations/create"): "ngsild.write",
    ("POST", "/ngsi-ld/v1/entityOperations/upsert"): "ngsild.write",
    ("POST", "/ngsi-ld/v1/entityOperations/update"): "ngsild.write",
    ("POST", "/ngsi-ld/v1/entityOperations/delete"): "ngsild.write",
    ("POST", "/ngsi-ld/v1/entityOperations/query"): "ngsild.read",
    ("GET", "/ngsi-ld/v1/types"): "ngsild.read",
    ("GET", "/ngsi-ld/v1/types/{type_name:path}"): "ngsild.read",
    ("GET", "/ngsi-ld/v1/attributes"): "ngsild.read",
    ("GET", "/ngsi-ld/v1/attributes/{attr:path}"): "ngsild.read",
    ("POST", "/ngsi-ld/v1/jsonldContexts"): "ngsild.write",
    ("GET", "/ngsi-ld/v1/jsonldContexts"): "ngsild.read",
    ("GET", "/ngsi-ld/v1/jsonldContexts/{context_id}"): "ngsild.read",
    ("DELETE", "/ngsi-ld/v1/jsonldContexts/{context_id}"): "ngsild.write",
    ("POST", "/ngsi-ld/v1/subscriptions"): "ngsild.write",
    ("GET", "/ngsi-ld/v1/subscriptions"): "ngsild.read",
    ("GET", "/ngsi-ld/v1/subscriptions/{sub_id}"): "ngsild.read",
    ("PATCH", "/ngsi-ld/v1/subscriptions/{sub_id}"): "ngsild.write",
    ("DELETE", "/ngsi-ld/v1/subscriptions/{sub_id}"): "ngsild.write",
    ("GET", "/open"): PUBLIC,
    ("GET", "/open/account"): PUBLIC,
    ("POST", "/open/account/api-key"): PUBLIC,
    ("GET", "/open/catalog.jsonld"): PUBLIC,
    ("GET", "/open/dataset/{name}"): PUBLIC,
    ("POST", "/open/dataset/{name}/agreement"): PUBLIC,
    ("GET", "/open/dataset/{name}/download.{fmt}"): PUBLIC,
    ("GET", "/open/login"): PUBLIC,
    ("POST", "/open/login"): PUBLIC,
    ("POST", "/open/logout"): PUBLIC,
    ("GET", "/open/register"): PUBLIC,
    ("POST", "/open/register"): PUBLIC,
}

ENTRY = "330281-GAJ-00001"


def declared_routes() -> dict[tuple[str, str], str]:
    found = {}
    for route in api_routes(module_routers(MODULES)):
        rule = route_rule(route)
        assert rule is not None, f"{route.path} has no single permission rule"
        for method in route.methods:
            found[(method, route.path)] = PUBLIC if isinstance(rule, PublicRoute) or rule.public else rule.permission
    return found


def test_every_route_is_in_the_table_with_the_expected_rule(app: FastAPI) -> None:
    declared = declared_routes()
    assert set(declared) - set(ROUTES) == set(), "routes without an expectation in this test"
    assert set(ROUTES) - set(declared) == set(), "expected routes that the app does not have"
    assert {k: v for k, v in declared.items() if ROUTES[k] != v} == {}


def test_permission_holders_match_the_specification(app: FastAPI) -> None:
    from smartcity.platform.permissions import REGISTRY

    assert {name: p.roles for name, p in REGISTRY.permissions.items()} == HOLDERS


@dataclass
class Caller:
    role: Role | None
    token: str | None = None
    cookie: str | None = None


@pytest.fixture
def world(db: Session) -> dict[str, object]:
    make_department(db, "GAJ", "余姚市公安局")
    callers: dict[str, Caller] = {"anonymous": Caller(None)}
    for username, role in (("pa", PA), ("da", DA), ("ds", DS), ("au", AU)):
        user = make_user(db, username, role, "GAJ" if role in (DA, DS) else None)
        login = identity.login(db, username=username, password=PASSWORD, ip="127.0.0.1")
        callers[role.value] = Caller(role, token=make_token(db, principal(user)), cookie=login.cookie)
    victim = make_user(db, "victim", DS, "GAJ")
    victim_token, _ = tokens.create_token(
        db, by=principal(victim), data=TokenCreate(name="victim", scopes=["catalog.read"])
    )
    make_entry(db)
    db.flush()
    return {"callers": callers, "victim_token": victim_token.id}


def concrete(path: str, victim_token: int) -> str:
    return (
        path.replace("/departments/{code}", "/departments/GAJ")
        .replace("{code}", ENTRY)
        .replace("{username}", "victim")
        .replace("{token_id}", str(victim_token))
        .replace("{version}", "1")
        .replace("{slug}", "not-found")
        .replace("{locale}", "en")
        .replace("/code-tables/{name}", "/code-tables/gb2261_1")
        .replace("{name}", "iot")
        .replace("{batch_id}", "1")
        .replace("{rule_id}", "1")
        .replace("{item_id}", "1")
        .replace("{pull_id}", "1")
        .replace("{decision}", "verify")
        .replace("{number}", "SQ2026000001")
        .replace("{subscription_id}", "1")
        .replace("{delivery_id}", "1")
        .replace("{alarm_id}", "1")
        .replace("{key:path}", "330281190001011234")
        .replace("{fmt}", "csv")
        .replace("{entity_id}", "urn:ngsi-ld:T:1")
        .replace("{attr}", "a")
        .replace("{type_name:path}", "T")
        .replace("{attr:path}", "a")
        .replace("{context_id}", "none")
        .replace("{sub_id}", "urn:ngsi-ld:Subscription:1")
    )


def call(client: TestClient, db: Session, method: str, path: str, caller: Caller) -> int:
    client.cookies.clear()
    headers: dict[str, str] = {"Accept": "application/json" if path.startswith(("/api/", "/ngsi-ld/")) else "text/html"}
    data = None
    json_body = None
    if path.startswith(("/api/", "/ngsi-ld/")):
        if caller.token:
            headers["Authorization"] = f"Bearer {caller.token}"
        json_body = {} if method in {"POST", "PATCH"} else None
    else:
        binding = caller.cookie
        if path == "/logout" and caller.role is not None:
            user_login = identity.login(
                db, username={PA: "pa", DA: "da", DS: "ds", AU: "au"}[caller.role], password=PASSWORD, ip=None
            )
            binding = user_login.cookie
        if binding is None:
            binding = "anonymous-browser"
            headers["Cookie"] = f"sc_anon={binding}"
        else:
            headers["Cookie"] = f"sc_session={binding}"
        if method == "POST":
            data = {"csrf_token": csrf_token(get_settings().secret_key, binding)}
    response = client.request(method, path, headers=headers, data=data, json=json_body, follow_redirects=False)
    if response.status_code in (302, 303) and response.headers["location"].startswith("/login?next="):
        return 401
    return response.status_code


@pytest.mark.parametrize("who", ["anonymous", "platform_admin", "dept_admin", "dept_staff", "auditor"])
def test_route_by_role(client: TestClient, db: Session, world: dict, who: str) -> None:
    caller: Caller = world["callers"][who]
    wrong = []
    for (method, template), permission in sorted(ROUTES.items()):
        path = concrete(template, world["victim_token"])
        status = call(client, db, method, path, caller)
        allowed = permission == PUBLIC or (caller.role is not None and caller.role in HOLDERS[permission])
        if allowed:
            ok = status not in (401, 403) or (template == "/login" and status == 401)
        elif caller.role is None:
            ok = status == 401
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{method} {path}: {status} (expected {'allow' if allowed else 'deny'})")
    assert wrong == []


def test_a_route_of_an_included_router_is_checked_too() -> None:
    inner = APIRouter(prefix="/inner")

    @inner.get("/open")
    def no_rule() -> dict[str, str]:
        return {}

    outer = APIRouter()
    outer.include_router(inner)
    assert unguarded_routes([outer]) == ["GET /inner/open: 0 permission rules"]
