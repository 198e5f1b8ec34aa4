"""Schemathesis walks the OpenAPI with generated input: no operation answers with a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session

from smartcity.app import create_app
from smartcity.platform.permissions import Role
from tests.factories import make_department, make_entry, make_token, make_user, principal

# Loaded at import so pytest sees the database fixture's parameters (SQLite and PostgreSQL).
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@pytest.fixture
def admin_token(db: Session) -> str:
    make_department(db)
    make_entry(db)
    return make_token(db, principal(make_user(db, "fuzz_admin", Role.PLATFORM_ADMIN)))


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_error_on_any_input(case: schemathesis.Case, admin_token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
    case.validate_response(response, checks=[not_a_server_error])
