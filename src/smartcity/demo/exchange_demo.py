"""Sharing and open data in the Yuyao demo: requests between departments in every state, the grants they made,
and a researcher with a portal account who accepted the conditions of the open address data.

- 市民政局 asked 市公安局 for 人口基础信息 to check the households of 低保 applicants; approved, masked.
- 市人力社保局 asked for 法人单位基础信息 (无条件共享): granted at once.
- 市卫计局 asked for 人口基础信息 with plain values for its health records: waiting for 市公安局.
- 市国税局 asked for 最低生活保障对象信息 without a duty that needs it: rejected by 市民政局.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from smartcity.db import unit_of_work
from smartcity.exchange import sharing
from smartcity.exchange.opendata import accounts, portal
from smartcity.exchange.opendata.schemas import AccountIn, AgreementIn
from smartcity.exchange.schemas import DecisionIn, RequestIn
from smartcity.exchange.vocab import Side
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams

POPULATION = "330281-GAJ-00001"
FIRMS = "330281-SCJ-00001"
ASSISTANCE = "330281-MZJ-00001"
ADDRESSES = "330281-GHJ-00003"
RESEARCHER = "nbu-planning"


@dataclass
class ExchangeSummary:
    requests: int
    grants: int
    portal_accounts: int

    def __str__(self) -> str:
        return f"sharing: {self.requests} requests, {self.grants} grants, {self.portal_accounts} portal account"


def _by(session: Session, username: str) -> Principal:
    return identity.principal_for(identity.get_user(session, by=identity.system_principal("demo"), username=username))


def already_loaded(session: Session) -> bool:
    mzj = _by(session, "mzj_admin")
    return sharing.list_requests(session, by=mzj, side=Side.RECEIVED, status=None, params=PageParams())[1] > 0


def load() -> ExchangeSummary | None:
    """The demo's requests, grants and portal account; nothing if they were loaded before."""
    until = dt.date.today() + dt.timedelta(days=300)
    with unit_of_work() as session:
        if already_loaded(session):
            return None
        gaj, mzj, wjj, rsj, gsj = (_by(session, f"{d}_admin") for d in ("gaj", "mzj", "wjj", "rsj", "gsj"))
        asked = sharing.create_request(
            session,
            by=mzj,
            data=RequestIn(
                entry_code=POPULATION,
                purpose="最低生活保障申请家庭的户籍人口核对（居民家庭经济状况核对）",
                legal_basis="《社会救助暂行办法》第十一条；《浙江省最低生活保障办法》",
                fields=[
                    "resident_id",
                    "full_name",
                    "gender_code",
                    "birth_date",
                    "household_no",
                    "relation_to_head",
                    "town_code",
                    "person_status",
                ],
                valid_until=until,
            ),
        )
        sharing.decide_request(
            session,
            by=gaj,
            number=asked.number,
            data=DecisionIn(approve=True, note="同意，仅限低保核对使用"),
        )
        sharing.create_request(
            session,
            by=rsj,
            data=RequestIn(
                entry_code=FIRMS,
                purpose="参保单位登记信息比对",
                fields=["credit_code", "org_name", "registration_status", "town_code"],
                valid_until=until,
            ),
        )
        sharing.create_request(
            session,
            by=wjj,
            data=RequestIn(
                entry_code=POPULATION,
                purpose="居民电子健康档案建档身份核验",
                legal_basis="《基本医疗卫生与健康促进法》第四十九条",
                fields=["resident_id", "full_name", "gender_code", "birth_date", "registered_address"],
                plain=True,
                valid_until=until,
            ),
        )
        refused = sharing.create_request(
            session,
            by=gsj,
            data=RequestIn(
                entry_code=ASSISTANCE,
                purpose="纳税人信息完善",
                legal_basis="《税收征收管理法》",
                fields=["member_id", "member_name"],
                valid_until=until,
            ),
        )
        sharing.decide_request(
            session,
            by=_by(session, "mzj_admin"),
            number=refused.number,
            data=DecisionIn(approve=False, note="低保对象信息仅用于社会救助，纳税人信息完善不在共享范围内"),
        )
        account = accounts.register(
            session,
            data=AccountIn(
                username=RESEARCHER,
                display_name="宁波大学城市规划研究所",
                email="planning@nbu.edu.cn",
                organisation="宁波大学",
                password="yuyao-open-2026",
            ),
        )
        accounts.accept(
            session,
            account=account,
            entry=portal.dataset(session, ADDRESSES),
            data=AgreementIn(purpose="余姚城区更新规划研究", accept=True),
        )
    return ExchangeSummary(requests=4, grants=2, portal_accounts=1)
