"""Departments, users and console login: the rules, the audit rows, the queries."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.i18n import N_
from smartcity.platform.identity.models import Department, LoginSession, User
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.schemas import DepartmentCreate, UserCreate, UserRead, UserUpdate
from smartcity.platform.paging import PageParams, fetch_page
from smartcity.platform.permissions import REGISTRY, Role

_hasher = PasswordHasher()
DEPARTMENT_ROLES = frozenset({Role.DEPT_ADMIN, Role.DEPT_STAFF})
LOCK_MINUTES = 15


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored argon2 hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(raw: str) -> str:
    """SHA-256 of a high-entropy secret (session cookies, API token secrets)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# --- departments -----------------------------------------------------------------------------


def department_by_code(session: Session, code: str, *, field: str = "department") -> Department:
    """The department with `code`, or an error naming `field`."""
    department = session.scalars(select(Department).where(Department.code == code)).one_or_none()
    if department is None:
        raise NotFound(N_("Unknown department '{code}'."), field=field, code=code)
    return department


def department_codes(session: Session) -> dict[int, str]:
    """Department id → code for every department."""
    return {row.id: row.code for row in session.execute(select(Department.id, Department.code))}


def list_departments(
    session: Session, *, q: str | None, kind: str | None, params: PageParams
) -> tuple[list[Department], int]:
    """Departments, filtered by a name fragment and kind, ordered by code."""
    stmt = select(Department)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Department.name.like(like), Department.short_name.like(like), Department.code.like(like)))
    if kind:
        stmt = stmt.where(Department.kind == kind)
    return fetch_page(session, stmt.order_by(Department.kind, Department.code), params)


def departments_by_id(session: Session, ids: Collection[int]) -> dict[int, Department]:
    """The departments with the given ids, keyed by id (one query, only the rows asked for)."""
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(set(ids))))}


def all_departments(session: Session) -> list[Department]:
    """Every department, city bodies first, for pickers."""
    return list(session.scalars(select(Department).order_by(Department.kind, Department.code)))


def create_department(session: Session, *, by: Principal, data: DepartmentCreate) -> Department:
    """Register a department; code and name must be unused."""
    taken = session.scalars(
        select(Department).where(or_(Department.code == data.code, Department.name == data.name))
    ).first()
    if taken is not None:
        field = "code" if taken.code == data.code else "name"
        raise Conflict(N_("A department with this {field} already exists."), field=field)
    department = Department(**data.model_dump())
    session.add(department)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="identity.department.create",
        target_type="department",
        target_id=department.code,
        detail={"name": department.name},
    )
    return department


# --- users -----------------------------------------------------------------------------------


def user_read(user: User) -> UserRead:
    """The public view of a user."""
    return UserRead(
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        department=user.department.code if user.department else None,
        is_active=user.is_active,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


def readable_users(principal: Principal) -> Select[User]:
    """Users the caller may see: all for platform admins and auditors, own department otherwise."""
    stmt = select(User)
    if principal.role in (Role.PLATFORM_ADMIN, Role.AUDITOR):
        return stmt
    return stmt.where(User.department_id == principal.department_id)


def list_users(session: Session, *, by: Principal, params: PageParams) -> tuple[list[User], int]:
    """A page of the users the caller may see."""
    return fetch_page(session, readable_users(by).order_by(User.username), params)


def get_user(session: Session, *, by: Principal, username: str) -> User:
    """A user the caller may see, else NotFound."""
    user = session.scalars(readable_users(by).where(User.username == username)).one_or_none()
    if user is None:
        raise NotFound(N_("No user '{username}'."), username=username)
    return user


def _check_role_assignment(session: Session, by: Principal, role: Role, department: str | None) -> int | None:
    if role in DEPARTMENT_ROLES and not department:
        raise InvalidInput(N_("Department roles need a department."), field="department")
    if role not in DEPARTMENT_ROLES and department:
        raise InvalidInput(N_("Role '{role}' does not belong to a department."), field="department", role=role)
    department_id = department_by_code(session, department).id if department else None
    if not by.is_platform_admin:
        if role not in DEPARTMENT_ROLES:
            raise PermissionDenied(N_("Only a platform administrator can grant the role '{role}'."), role=role)
        if department_id != by.department_id:
            raise PermissionDenied(N_("Department administrators manage users of their own department only."))
    return department_id


def create_user(session: Session, *, by: Principal, data: UserCreate) -> User:
    """Create a user; department admins may create department users of their own department only."""
    department_id = _check_role_assignment(session, by, data.role, data.department)
    if user_exists(session, data.username):
        raise Conflict(N_("The username '{username}' is taken."), field="username", username=data.username)
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        role=data.role.value,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="identity.user.create",
        target_type="user",
        target_id=user.username,
        detail={"role": user.role, "department": data.department},
    )
    return user


def update_user(session: Session, *, by: Principal, username: str, data: UserUpdate) -> User:
    """Change a user's name, role, department, password or active flag; role changes are audited."""
    user = get_user(session, by=by, username=username)
    if not by.is_platform_admin and Role(user.role) not in DEPARTMENT_ROLES:
        raise PermissionDenied(N_("Only a platform administrator can change this user."))
    changes = data.model_dump(exclude_unset=True)
    if "role" in changes or "department" in changes:
        role = data.role if data.role is not None else Role(user.role)
        dept = changes.get("department", user.department.code if user.department else None)
        if role not in DEPARTMENT_ROLES and "department" not in changes:
            dept = None
        new_department_id = _check_role_assignment(session, by, role, dept)
        if user.id == by.user_id and role != by.role:
            raise PermissionDenied(N_("You cannot change your own role."))
        before = {"role": user.role, "department": user.department.code if user.department else None}
        user.role = role.value
        user.department_id = new_department_id
        audit.record(
            session,
            actor=by.actor(),
            action="identity.user.role_change",
            target_type="user",
            target_id=user.username,
            detail={"before": before, "after": {"role": role.value, "department": dept}},
        )
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.password is not None:
        user.password_hash = hash_password(data.password)
        audit.record(
            session,
            actor=by.actor(),
            action="identity.user.password_reset",
            target_type="user",
            target_id=user.username,
        )
    if data.is_active is not None and data.is_active != user.is_active:
        if user.id == by.user_id:
            raise PermissionDenied(N_("You cannot deactivate yourself."))
        user.is_active = data.is_active
        if not data.is_active:
            session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        audit.record(
            session,
            actor=by.actor(),
            action="identity.user.activate" if data.is_active else "identity.user.deactivate",
            target_type="user",
            target_id=user.username,
        )
    session.flush()
    session.expire(user, ["department"])
    return user


# --- principals and login --------------------------------------------------------------------


def principal_for(
    user: User, *, permissions: frozenset[str] | None = None, token_id: int | None = None, ip: str | None = None
) -> Principal:
    """The Principal a user (or one of their tokens) acts as."""
    role = Role(user.role)
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=role,
        department_id=user.department_id,
        department_code=user.department.code if user.department else None,
        permissions=REGISTRY.for_role(role) if permissions is None else permissions,
        token_id=token_id,
        ip=ip,
    )


def system_principal(label: str) -> Principal:
    """A platform-admin principal with no user row, for bootstrap jobs (demo loading, fixtures)."""
    return Principal(
        user_id=0,
        username=label,
        display_name=label,
        role=Role.PLATFORM_ADMIN,
        department_id=None,
        department_code=None,
        permissions=REGISTRY.for_role(Role.PLATFORM_ADMIN),
    )


def command_line_principal(session: Session, username: str | None) -> Principal:
    """Who a command acts as: the user `username` (`--as`), else the platform itself, labelled with the OS user."""
    if username is None:
        return system_principal(f"cli:{getpass.getuser()}")
    return principal_for(get_user(session, by=system_principal("cli"), username=username))


@dataclass(frozen=True)
class LoginResult:
    """A successful login carries the user and the cookie value; a failed one says why."""

    user: User | None
    cookie: str | None
    failure: str | None = None


def login(session: Session, *, username: str, password: str, ip: str | None) -> LoginResult:
    """Check credentials, lock after repeated failures, open a session; every attempt is audited."""
    settings = get_settings()
    now = utcnow()
    actor = audit.Actor(label=username[:100] or "?", ip=ip)
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    failure: str | None = None
    if user is None or not user.is_active:
        failure = N_("Wrong username or password.")
    elif user.locked_until is not None and user.locked_until > now:
        failure = N_("Too many failed attempts; the account is locked for a while.")
    elif not password_matches(user.password_hash, password):
        failure = N_("Wrong username or password.")
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
    if failure is not None or user is None:
        audit.record(
            session,
            actor=actor,
            action="auth.login",
            outcome="failure",
            target_type="user",
            target_id=username[:100],
            detail={"reason": failure},
        )
        return LoginResult(user=None, cookie=None, failure=failure)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=token_digest(cookie),
            user_id=user.id,
            expires_at=now + dt.timedelta(hours=settings.session_hours),
        )
    )
    audit.record(
        session,
        actor=audit.Actor(label=user.username, user_id=user.id, department_id=user.department_id, ip=ip),
        action="auth.login",
        target_type="user",
        target_id=user.username,
    )
    return LoginResult(user=user, cookie=cookie)


def logout(session: Session, *, cookie: str, by: Principal) -> None:
    """End the console session behind `cookie`."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == token_digest(cookie)))
    audit.record(session, actor=by.actor(), action="auth.logout", target_type="user", target_id=by.username)


def principal_from_session(session: Session, *, cookie: str, ip: str | None) -> Principal | None:
    """The principal of a live console session, or None for an unknown or expired cookie."""
    row = session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == token_digest(cookie))
    ).one_or_none()
    if row is None:
        return None
    login_session, user = row
    if login_session.expires_at <= utcnow() or not user.is_active:
        return None
    return principal_for(user, ip=ip)


def user_exists(session: Session, username: str) -> bool:
    """Whether a user with `username` exists."""
    return session.scalars(select(User.id).where(User.username == username)).first() is not None


def ensure_user(
    session: Session, *, username: str, display_name: str, password: str, role: Role, department_code: str | None
) -> User:
    """Create the user if missing (bootstrap and demo data); no audit actor exists yet."""
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is not None:
        return user
    department_id = department_by_code(session, department_code).id if department_code else None
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role.value,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=audit.SYSTEM,
        action="identity.user.create",
        target_type="user",
        target_id=username,
        detail={"role": role.value, "department": department_code},
    )
    return user
