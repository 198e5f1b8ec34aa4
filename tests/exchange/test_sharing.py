"""Sharing follows the entry's sharing type: 无条件共享 granted on request, 有条件共享 approved by the providing
department (which may narrow the grant), 不予共享 refused; grants are listed on both sides, revocable, audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartcity.exchange import sharing
from smartcity.exchange.schemas import DecisionIn, RequestIn, RevokeIn
from smartcity.exchange.vocab import GrantState, RequestStatus, Side
from smartcity.platform.audit.models import AuditEntry
from smartcity.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from smartcity.platform.paging import PageParams
from tests.exchange.world import POPULATION, ROADS, SECRET, build, grant_population, until

FIRST = PageParams(page=1, page_size=50)


def _ask(code: str, **overrides: object) -> RequestIn:
    data: dict[str, object] = {
        "entry_code": code,
        "purpose": "最低生活保障对象家庭人口核对",
        "legal_basis": "",
        "fields": ["road_code", "road_name"] if code != POPULATION else ["resident_id", "full_name"],
        "valid_until": until(),
    }
    data.update(overrides)
    return RequestIn.model_validate(data)


def test_unconditional_entries_are_granted_on_request_masked_only(db: Session) -> None:
    world = build(db)
    made = sharing.create_request(db, by=world.mzj, data=_ask(ROADS))
    assert made.status is RequestStatus.APPROVED and made.grant and made.decided_by == sharing.UNCONDITIONAL_GRANTOR
    grant = sharing.get_grant(db, by=world.gaj, number=made.grant)  # the provider sees it too
    assert grant.state is GrantState.ACTIVE and grant.fields == ["road_code", "road_name"] and not grant.plain
    # Plain values are never granted without the providing department, whatever the sharing type.
    plain = sharing.create_request(db, by=world.rsj, data=_ask(ROADS, plain=True, legal_basis="《统计法》第七条"))
    assert plain.status is RequestStatus.PENDING and plain.grant is None


def test_conditional_entries_wait_for_the_provider_who_may_narrow_the_grant(db: Session) -> None:
    world = build(db)
    with pytest.raises(InvalidInput) as missing:
        sharing.create_request(db, by=world.mzj, data=_ask(POPULATION))
    assert missing.value.field == "legal_basis"
    asked = sharing.create_request(
        db, by=world.mzj, data=_ask(POPULATION, legal_basis="《社会救助暂行办法》第十一条", plain=True)
    )
    assert asked.status is RequestStatus.PENDING
    with pytest.raises(Conflict):  # one request at a time per entry and department
        sharing.create_request(db, by=world.mzj, data=_ask(POPULATION, legal_basis="《社会救助暂行办法》"))
    with pytest.raises(PermissionDenied):  # the requester cannot approve its own request
        sharing.decide_request(db, by=world.mzj, number=asked.number, data=DecisionIn(approve=True))
    with pytest.raises(NotFound):  # a department on neither side is told nothing
        sharing.get_request(db, by=world.rsj, number=asked.number)
    with pytest.raises(InvalidInput) as extra:
        sharing.decide_request(
            db, by=world.gaj, number=asked.number, data=DecisionIn(approve=True, fields=["resident_id", "phone"])
        )
    assert extra.value.field == "fields"
    shorter = dt.date.today() + dt.timedelta(days=30)
    decided = sharing.decide_request(
        db,
        by=world.gaj,
        number=asked.number,
        data=DecisionIn(approve=True, fields=["resident_id"], plain=False, valid_until=shorter, note="仅核对身份"),
    )
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == "gaj_officer"
    grant = sharing.get_grant(db, by=world.mzj, number=decided.grant or "")
    assert grant.fields == ["resident_id"] and not grant.plain
    assert grant.valid_until.astimezone(dt.timezone(dt.timedelta(hours=8))).date() == shorter
    with pytest.raises(Conflict):
        sharing.decide_request(db, by=world.gaj, number=asked.number, data=DecisionIn(approve=False, note="晚了"))
    # Listed for both sides.
    held, _ = sharing.list_grants(db, by=world.mzj, side=Side.RECEIVED, state=GrantState.ACTIVE, params=FIRST)
    given, _ = sharing.list_grants(db, by=world.gaj, side=Side.PROVIDED, state=None, params=FIRST)
    assert [g.number for g in held] == [g.number for g in given] == [grant.number]
    assert sharing.list_grants(db, by=world.rsj, side=None, state=None, params=FIRST)[1] == 0
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.target_id.in_([asked.number, grant.number]))))
    assert {"exchange.request.create", "exchange.request.approve", "exchange.grant.create"} <= actions


def test_entries_not_shared_and_bad_requests_are_refused_naming_the_field(db: Session) -> None:
    world = build(db)
    with pytest.raises(Conflict) as refused:
        sharing.create_request(db, by=world.mzj, data=_ask(SECRET, legal_basis="x" * 10))
    assert refused.value.field == "entry_code" and "不予共享" in str(refused.value)
    with pytest.raises(InvalidInput) as unknown:
        sharing.create_request(db, by=world.mzj, data=_ask(ROADS, fields=["road_code", "owner"]))
    assert unknown.value.field == "fields.1" and "owner" in str(unknown.value)
    with pytest.raises(InvalidInput) as past:
        sharing.create_request(db, by=world.mzj, data=_ask(ROADS, valid_until=dt.date(2020, 1, 1)))
    assert past.value.field == "valid_until"
    with pytest.raises(InvalidInput) as far:
        sharing.create_request(db, by=world.mzj, data=_ask(ROADS, valid_until=until(400)))
    assert far.value.field == "valid_until"
    with pytest.raises(Conflict):  # a department does not request its own entry
        sharing.create_request(db, by=world.gaj, data=_ask(ROADS))
    with pytest.raises(NotFound):
        sharing.create_request(db, by=world.mzj, data=_ask("330281-GAJ-09999"))


def test_reject_withdraw_and_revoke(db: Session) -> None:
    world = build(db)
    asked = sharing.create_request(db, by=world.rsj, data=_ask(POPULATION, legal_basis="《就业促进法》"))
    with pytest.raises(InvalidInput) as no_reason:
        sharing.decide_request(db, by=world.gaj, number=asked.number, data=DecisionIn(approve=False))
    assert no_reason.value.field == "note"
    rejected = sharing.decide_request(
        db, by=world.gaj, number=asked.number, data=DecisionIn(approve=False, note="用途不在法定职责内")
    )
    assert rejected.status is RequestStatus.REJECTED and rejected.grant is None
    again = sharing.create_request(db, by=world.rsj, data=_ask(POPULATION, legal_basis="《就业促进法》第五十一条"))
    withdrawn = sharing.withdraw_request(db, by=world.rsj, number=again.number)
    assert withdrawn.status is RequestStatus.WITHDRAWN
    number = grant_population(db, world)
    with pytest.raises(PermissionDenied):  # the holder cannot revoke
        sharing.revoke_grant(db, by=world.mzj, number=number, data=RevokeIn(reason="不需要了"))
    revoked = sharing.revoke_grant(db, by=world.gaj, number=number, data=RevokeIn(reason="超范围使用"))
    assert revoked.state is GrantState.REVOKED and revoked.revoke_reason == "超范围使用"
    assert sharing.usable_grant(db, department_id=world.mzj.department_id or 0, entry_code=POPULATION) is None
    with pytest.raises(Conflict):
        sharing.revoke_grant(db, by=world.gaj, number=number, data=RevokeIn(reason="再次"))
