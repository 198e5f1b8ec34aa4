"""Identity: console login with CSRF, lockout, tokens (hashed, scoped, expiring, revocable), user rules."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.platform.audit.models import AuditEntry
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.models import ApiToken, User
from smartcity.platform.identity.schemas import UserCreate, UserUpdate
from smartcity.platform.permissions import Role
from tests.factories import PASSWORD, auth, make_department, make_token, make_user, principal


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "form has no CSRF token"
    return match.group(1)


def actions(db: Session) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in db.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


@pytest.fixture
def staff(db: Session) -> User:
    make_department(db)
    return make_user(db, "gaj_staff", Role.DEPT_STAFF, "GAJ")


def test_console_login_sets_session_and_is_audited(client: TestClient, db: Session, staff: User) -> None:
    page = client.get("/login")
    assert "sc_anon" in page.cookies
    response = client.post(
        "/login",
        data={"username": "gaj_staff", "password": PASSWORD, "next": "/catalog", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/catalog"
    set_cookie = response.headers["set-cookie"]
    assert "sc_session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie
    assert client.get("/catalog").status_code == 200
    assert ("auth.login", "success") in actions(db)


def test_login_with_wrong_csrf_is_refused_and_nothing_happens(client: TestClient, db: Session, staff: User) -> None:
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": "gaj_staff", "password": PASSWORD, "csrf_token": "0" * 64},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "security token" in response.text or "安全令牌" in response.text
    assert "sc_session" not in response.cookies
    assert ("auth.login", "success") not in actions(db)


def test_console_post_without_csrf_is_403(client: TestClient, db: Session, staff: User) -> None:
    cookie = identity.login(db, username="gaj_staff", password=PASSWORD, ip=None).cookie
    response = client.post(
        "/logout", headers={"Cookie": f"sc_session={cookie}", "Accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert identity.principal_from_session(db, cookie=cookie or "", ip=None) is not None


def test_wrong_password_is_audited_and_locks_after_repeated_failures(db: Session, staff: User) -> None:
    for _ in range(5):
        assert identity.login(db, username="gaj_staff", password="wrong-password", ip="1.2.3.4").failure
    locked = identity.login(db, username="gaj_staff", password=PASSWORD, ip="1.2.3.4")
    assert locked.cookie is None and "locked" in (locked.failure or "")
    assert actions(db).count(("auth.login", "failure")) == 6


def test_passwords_are_argon2_hashes(staff: User) -> None:
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash


def test_token_secret_is_hashed_at_rest_and_shown_once(client: TestClient, db: Session) -> None:
    make_department(db)
    admin = make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ")
    raw = make_token(db, principal(admin))
    response = client.post("/api/v1/tokens", json={"name": "ERP", "scopes": ["catalog.read"]}, headers=auth(raw))
    assert response.status_code == 201, response.text
    created = response.json()["token"]
    secret = created.split("_", 2)[2]
    stored = db.scalars(select(ApiToken).where(ApiToken.key_id == response.json()["key_id"])).one()
    assert secret not in stored.secret_hash and len(stored.secret_hash) == 64
    listed = client.get("/api/v1/tokens", headers=auth(raw)).json()["items"]
    assert all("token" not in item for item in listed)
    assert client.get("/api/v1/me", headers=auth(created)).status_code == 403  # scope is catalog.read only
    assert client.get("/api/v1/catalog/entries", headers=auth(created)).status_code == 200


def test_scopes_limit_a_token(client: TestClient, db: Session) -> None:
    make_department(db)
    admin = principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ"))
    reader = make_token(db, admin, scopes=["catalog.read"])
    response = client.post("/api/v1/catalog/entries", json={}, headers=auth(reader))
    assert response.status_code == 403
    assert "catalog.write" in response.json()["detail"]


def test_token_cannot_be_given_scopes_beyond_the_role(client: TestClient, db: Session) -> None:
    make_department(db)
    admin = principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ"))
    response = client.post(
        "/api/v1/tokens",
        json={"name": "x", "scopes": ["catalog.read", "audit.read"]},
        headers=auth(make_token(db, admin)),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scopes.1"


def test_revoked_and_expired_tokens_get_401_problem(client: TestClient, db: Session) -> None:
    make_department(db)
    admin = principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ"))
    raw = make_token(db, admin)
    victim = make_token(db, admin, name="victim")
    victim_id = db.scalars(select(ApiToken.id).where(ApiToken.name == "victim")).one()
    assert client.delete(f"/api/v1/tokens/{victim_id}", headers=auth(raw)).status_code == 200
    revoked = client.get("/api/v1/me", headers=auth(victim))
    assert revoked.status_code == 401
    assert revoked.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in revoked.json()["detail"] or "吊销" in revoked.json()["detail"]
    token = db.scalars(select(ApiToken).where(ApiToken.id != victim_id)).first()
    assert token is not None
    token.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.flush()
    expired = client.get("/api/v1/me", headers={**auth(raw), "Accept-Language": "en"})
    assert expired.status_code == 401 and expired.json()["detail"] == "The bearer token expired."
    forged = client.get("/api/v1/me", headers=auth(raw[:-3] + "abc"))
    assert forged.status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_department_admin_manages_own_department_only(db: Session) -> None:
    make_department(db)
    make_department(db, "MZJ", "余姚市民政局")
    admin = principal(make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ"))
    created = identity.create_user(
        db,
        by=admin,
        data=UserCreate(
            username="gaj_new", display_name="新同事", password=PASSWORD, role=Role.DEPT_STAFF, department="GAJ"
        ),
    )
    assert created.department_id == admin.department_id
    with pytest.raises(Exception, match="own department"):
        identity.create_user(
            db,
            by=admin,
            data=UserCreate(
                username="mzj_new", display_name="外部", password=PASSWORD, role=Role.DEPT_STAFF, department="MZJ"
            ),
        )
    with pytest.raises(Exception, match="platform administrator"):
        identity.create_user(
            db,
            by=admin,
            data=UserCreate(username="boss", display_name="越权", password=PASSWORD, role=Role.PLATFORM_ADMIN),
        )


def test_role_change_is_audited_with_before_and_after(db: Session) -> None:
    make_department(db)
    root = principal(make_user(db, "pa", Role.PLATFORM_ADMIN))
    make_user(db, "gaj_staff", Role.DEPT_STAFF, "GAJ")
    identity.update_user(db, by=root, username="gaj_staff", data=UserUpdate(role=Role.DEPT_ADMIN))
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "identity.user.role_change")).one()
    assert entry.detail["before"]["role"] == "dept_staff" and entry.detail["after"]["role"] == "dept_admin"


def test_deactivated_user_loses_sessions_and_tokens(client: TestClient, db: Session) -> None:
    make_department(db)
    root = principal(make_user(db, "pa", Role.PLATFORM_ADMIN))
    staff = make_user(db, "gaj_staff", Role.DEPT_STAFF, "GAJ")
    raw = make_token(db, principal(staff))
    cookie = identity.login(db, username="gaj_staff", password=PASSWORD, ip=None).cookie
    identity.update_user(db, by=root, username="gaj_staff", data=UserUpdate(is_active=False))
    assert identity.principal_from_session(db, cookie=cookie or "", ip=None) is None
    assert client.get("/api/v1/me", headers=auth(raw)).status_code == 401


def test_duplicate_department_is_409_and_not_written(client: TestClient, db: Session) -> None:
    make_department(db)
    root = make_user(db, "pa", Role.PLATFORM_ADMIN)
    before = db.scalar(select(func.count()).select_from(User))
    response = client.post(
        "/api/v1/departments",
        headers=auth(make_token(db, principal(root))),
        json={"code": "GAJ", "name": "重复", "short_name": "重复"},
    )
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "code"
    assert db.scalar(select(func.count()).select_from(User)) == before


def test_token_form_shows_the_secret_once_and_names_bad_scopes(client: TestClient, db: Session) -> None:
    make_department(db)
    make_user(db, "gaj_admin", Role.DEPT_ADMIN, "GAJ")
    cookie = identity.login(db, username="gaj_admin", password=PASSWORD, ip=None).cookie or ""
    client.cookies.set("sc_session", cookie)
    token = csrf_from(client.get("/admin/tokens").text)
    bad = client.post("/admin/tokens", data={"csrf_token": token, "name": "ERP", "scopes": ["audit.read"]})
    assert bad.status_code == 422 and 'data-field="scopes.0"' in bad.text
    assert db.scalar(select(func.count()).select_from(ApiToken)) == 0
    good = client.post("/admin/tokens", data={"csrf_token": token, "name": "ERP", "scopes": ["catalog.read"]})
    secret = re.search(r'<p class="secret">(sct_[^<]+)</p>', good.text)
    assert secret and client.get("/api/v1/catalog/entries", headers=auth(secret.group(1))).status_code == 200
    assert "sct_" not in client.get("/admin/tokens").text
