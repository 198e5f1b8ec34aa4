"""A small city for the sharing tests: 公安局 provides a population entry (有条件共享) and a roads entry (无条件共享),
民政局 and 人社局 would use them; 12 residents with valid resident IDs are in the population entry's table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from smartcity.demo import records
from smartcity.exchange import sharing
from smartcity.exchange.schemas import DecisionIn, RequestIn
from smartcity.platform.identity.principal import Principal
from smartcity.platform.permissions import Role
from tests.factories import ingest_text, make_department, make_entry, make_user, principal

POPULATION = "330281-GAJ-00051"
ROADS = "330281-GAJ-00052"
SECRET = "330281-GAJ-00053"
PEOPLE = 12
FIELDS = [
    {
        "name": "resident_id",
        "title": "公民身份号码",
        "required": True,
        "sensitive": True,
        "key": True,
        "description": "GB 11643 18位公民身份号码",
    },
    {"name": "full_name", "title": "姓名", "required": True, "sensitive": True},
    {"name": "gender_code", "title": "性别"},
    {"name": "birth_date", "title": "出生日期", "type": "date"},
    {"name": "phone", "title": "联系电话", "sensitive": True},
    {"name": "registered_address", "title": "户籍地址", "sensitive": True},
    {"name": "town_code", "title": "所属乡镇（街道）"},
    {"name": "income", "title": "月收入", "type": "decimal", "sensitive": True},
]
ROAD_FIELDS = [
    {"name": "road_code", "title": "道路编码", "required": True, "key": True},
    {"name": "road_name", "title": "道路名称", "required": True},
    {"name": "length_km", "title": "长度", "type": "decimal"},
]


@dataclass
class World:
    gaj: Principal  # the providing department's officer
    mzj: Principal  # an officer of a department that will hold grants
    mzj_staff: Principal
    rsj: Principal  # an officer of a department that holds nothing
    people: pl.DataFrame


def people_frame() -> pl.DataFrame:
    people = records.people(PEOPLE, seed=51).with_columns(
        records.phones(np.random.default_rng(51), PEOPLE).alias("phone"),
        pl.Series("income", [f"{3000 + 250 * i}.50" for i in range(PEOPLE)]),
    )
    return people.select([f["name"] for f in FIELDS]).sort("resident_id")


def build(db: Session) -> World:
    for code, name in (("GAJ", "余姚市公安局"), ("MZJ", "余姚市民政局"), ("RSJ", "余姚市人力资源和社会保障局")):
        make_department(db, code, name)
    gaj = principal(make_user(db, "gaj_officer", Role.DEPT_ADMIN, "GAJ"))
    mzj = principal(make_user(db, "mzj_officer", Role.DEPT_ADMIN, "MZJ"))
    staff = principal(make_user(db, "mzj_clerk", Role.DEPT_STAFF, "MZJ"))
    rsj = principal(make_user(db, "rsj_officer", Role.DEPT_ADMIN, "RSJ"))
    make_entry(
        db,
        code=POPULATION,
        name="常住人口信息（共享测试）",
        fields=FIELDS,
        sharing_type="conditional",
        sharing_condition="用于社会救助对象核对",
    )
    make_entry(
        db,
        code=ROADS,
        name="道路信息（共享测试）",
        fields=ROAD_FIELDS,
        sharing_type="unconditional",
        sharing_condition="",
        open_type="unconditional",
    )
    make_entry(
        db,
        code=SECRET,
        name="案件信息（共享测试）",
        fields=ROAD_FIELDS,
        sharing_type="none",
        sharing_condition="依法不予共享",
    )
    people = people_frame()
    ingest_text(db, people.write_csv(), code=POPULATION)
    ingest_text(db, "road_code,road_name,length_km\nR001,新建北路,2.4\nR002,阳明西路,3.1\n", code=ROADS)
    return World(gaj=gaj, mzj=mzj, mzj_staff=staff, rsj=rsj, people=people)


def until(days: int = 90) -> dt.date:
    return dt.date.today() + dt.timedelta(days=days)


def grant_population(db: Session, world: World, *, fields: list[str] | None = None, plain: bool = False) -> str:
    """民政局 asks for the population entry and 公安局 approves; the grant's number."""
    asked = sharing.create_request(
        db,
        by=world.mzj,
        data=RequestIn(
            entry_code=POPULATION,
            purpose="最低生活保障对象家庭人口核对",
            legal_basis="《社会救助暂行办法》第十一条",
            fields=fields or [f["name"] for f in FIELDS],
            plain=plain,
            valid_until=until(),
        ),
    )
    decided = sharing.decide_request(db, by=world.gaj, number=asked.number, data=DecisionIn(approve=True))
    assert decided.grant is not None
    return decided.grant
