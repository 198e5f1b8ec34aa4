"""An NGSI-LD client of the app: a platform user's API token on every request, the test's transaction shared."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from smartcity.platform.permissions import Role
from tests.factories import make_department, make_token, make_user, principal

BASE = "/ngsi-ld/v1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
JSON_LD = "application/ld+json"


class Ngsi:
    """Requests to /ngsi-ld/v1 with a bearer token, JSON bodies by default."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        **params: Any,
    ) -> Any:
        all_headers = self.headers(headers)
        kwargs: dict[str, Any] = {"params": params or None}
        if body is not None:
            import json

            kwargs["content"] = json.dumps(body).encode() if not isinstance(body, bytes) else body
            all_headers.setdefault("Content-Type", content_type)
        return self.client.request(method, BASE + path, headers=all_headers, **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def create(self, entity: dict[str, Any], **kw: Any) -> Any:
        response = self.post("/entities", entity, **kw)
        assert response.status_code == 201, response.text
        return response


@pytest.fixture
def ngsi(client: TestClient, db: Session) -> Ngsi:
    make_department(db, "SLJ", "余姚市水利局")
    user = make_user(db, "slj-staff", Role.DEPT_STAFF, "SLJ")
    return Ngsi(client, make_token(db, principal(user)))


@pytest.fixture
def reader(client: TestClient, db: Session) -> Ngsi:
    user = make_user(db, "auditor-1", Role.AUDITOR)
    return Ngsi(client, make_token(db, principal(user)))


def gauge(number: int = 1, level: float = 2.35, **extra: Any) -> dict[str, Any]:
    """A 姚江 water gauge as a FIWARE WaterObserved entity."""
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:WaterObserved:YJ-WL-{number:04d}",
        "type": "WaterObserved",
        "name": {"type": "Property", "value": f"姚江水位站{number}号"},
        "height": {"type": "Property", "value": level, "unitCode": "MTR", "observedAt": "2026-12-04T08:00:00Z"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [round(121.15 + number / 1000, 6), 30.04]},
        },
    }
    entity.update(extra)
    return entity
