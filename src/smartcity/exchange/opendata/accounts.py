"""Portal accounts (注册用户): registration, sign-in sessions, API keys for CKAN clients, accepted agreements.

Portal accounts are kept apart from the platform's users: a registered citizen or company holds no platform role
and no permission, only the agreements it accepted. Passwords are argon2 hashes, session cookies and API keys are
stored as SHA-256 digests of random secrets.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smartcity.catalog.schemas import EntryRead
from smartcity.catalog.vocab import OpenType
from smartcity.config import get_settings
from smartcity.db import utcnow
from smartcity.exchange.models import Agreement, PortalAccount, PortalSession
from smartcity.exchange.opendata.schemas import AccountIn, AccountRead, AgreementIn, AgreementRead
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity

KEY_PREFIX = "sco_"


def actor(account: PortalAccount | None) -> audit.Actor:
    """How a portal account appears in the audit log."""
    return audit.Actor(label=f"open:{account.username}" if account else "open:anonymous")


def register(session: Session, *, data: AccountIn) -> PortalAccount:
    """A new portal account (usernames are unique, case-insensitively)."""
    if session.scalar(select(PortalAccount.id).where(PortalAccount.username == data.username.lower())):
        raise Conflict(N_("The username '{username}' is taken."), field="username", username=data.username)
    account = PortalAccount(
        username=data.username.lower(),
        display_name=data.display_name,
        email=data.email,
        organisation=data.organisation,
        password_hash=identity.hash_password(data.password),
        created_at=utcnow(),
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor=actor(account),
        action="open.account.register",
        target_type="open_account",
        target_id=account.username,
        detail={"organisation": account.organisation},
    )
    return account


def login(session: Session, *, username: str, password: str) -> str:
    """A session cookie for valid credentials; InvalidInput otherwise (the same message for either mistake)."""
    account = session.scalars(select(PortalAccount).where(PortalAccount.username == username.strip().lower())).first()
    if account is None or not account.is_active or not identity.password_matches(account.password_hash, password):
        raise InvalidInput(N_("Wrong username or password."), field="password")
    now = utcnow()
    session.execute(
        delete(PortalSession).where(PortalSession.account_id == account.id, PortalSession.expires_at <= now)
    )
    cookie = secrets.token_urlsafe(32)
    hours = get_settings().session_hours
    session.add(
        PortalSession(
            token_hash=identity.token_digest(cookie), account_id=account.id, expires_at=now + dt.timedelta(hours=hours)
        )
    )
    return cookie


def logout(session: Session, *, cookie: str) -> None:
    session.execute(delete(PortalSession).where(PortalSession.token_hash == identity.token_digest(cookie)))


def from_cookie(session: Session, cookie: str | None) -> PortalAccount | None:
    """The account of a live portal session."""
    if not cookie:
        return None
    row = session.execute(
        select(PortalSession, PortalAccount)
        .join(PortalAccount, PortalAccount.id == PortalSession.account_id)
        .where(PortalSession.token_hash == identity.token_digest(cookie))
    ).one_or_none()
    if row is None or row[0].expires_at <= utcnow() or not row[1].is_active:
        return None
    return row[1]


def issue_api_key(session: Session, *, account: PortalAccount) -> str:
    """A new API key for CKAN clients (the old one stops working); shown once, stored as a digest."""
    raw = KEY_PREFIX + secrets.token_urlsafe(30)
    account.api_key_hash = identity.token_digest(raw)
    audit.record(
        session,
        actor=actor(account),
        action="open.account.api_key",
        target_type="open_account",
        target_id=account.username,
        detail={},
    )
    return raw


def from_api_key(session: Session, raw: str | None) -> PortalAccount | None:
    """The account of an API key (as CKAN clients send it: raw, or after 'Bearer ')."""
    if not raw:
        return None
    raw = raw.strip().removeprefix("Bearer ").strip()
    if not raw.startswith(KEY_PREFIX):
        return None
    account = session.scalars(
        select(PortalAccount).where(PortalAccount.api_key_hash == identity.token_digest(raw))
    ).one_or_none()
    return account if account is not None and account.is_active else None


def has_agreement(session: Session, account: PortalAccount | None, entry: EntryRead) -> bool:
    """Whether `account` accepted the conditions of `entry` as they read now."""
    if account is None:
        return False
    conditions = session.scalar(
        select(Agreement.conditions).where(Agreement.account_id == account.id, Agreement.entry_code == entry.code)
    )
    return conditions is not None and conditions == entry.open_condition


def accept(session: Session, *, account: PortalAccount, entry: EntryRead, data: AgreementIn) -> None:
    """Record that `account` accepts the conditions of a conditionally open entry, for `data.purpose`."""
    if entry.open_type is not OpenType.CONDITIONAL:
        raise Conflict(N_("Entry {code} has no conditions to accept."), code=entry.code)
    if not data.accept:
        raise InvalidInput(N_("Tick the box to accept the conditions."), field="accept")
    found = session.scalars(
        select(Agreement).where(Agreement.account_id == account.id, Agreement.entry_code == entry.code)
    ).one_or_none()
    if found is None:
        found = Agreement(account_id=account.id, entry_code=entry.code)
        session.add(found)
    found.conditions, found.purpose, found.accepted_at = entry.open_condition, data.purpose, utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor(account),
        action="open.agreement.accept",
        target_type="open_agreement",
        target_id=entry.code,
        detail={"purpose": data.purpose},
    )


def account_read(session: Session, account: PortalAccount, entries: dict[str, EntryRead]) -> AccountRead:
    """An account with its agreements (`entries`: the open entries by code)."""
    agreements = session.scalars(select(Agreement).where(Agreement.account_id == account.id)).all()
    return AccountRead(
        username=account.username,
        display_name=account.display_name,
        email=account.email,
        organisation=account.organisation,
        created_at=account.created_at,
        has_api_key=account.api_key_hash is not None,
        agreements=[
            AgreementRead(
                entry_code=a.entry_code,
                entry_name=entries[a.entry_code].name if a.entry_code in entries else a.entry_code,
                conditions=a.conditions,
                purpose=a.purpose,
                accepted_at=a.accepted_at,
                current=a.entry_code in entries and entries[a.entry_code].open_condition == a.conditions,
            )
            for a in agreements
        ],
    )
