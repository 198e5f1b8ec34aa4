"""Loading the Yuyao demo: departments and town offices, demo users, the resource catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from faker import Faker
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.catalog.schemas import EntryCreate
from smartcity.config import get_settings
from smartcity.db import unit_of_work
from smartcity.demo import exchange_demo, ingest_demo, iot_demo, registry_demo
from smartcity.demo.catalog_seed import ENTRIES
from smartcity.demo.departments import DEPARTMENTS
from smartcity.demo.exchange_demo import ExchangeSummary
from smartcity.demo.ingest_demo import IngestSummary
from smartcity.demo.iot_demo import IotSummary
from smartcity.demo.registry_demo import RegistrySummary
from smartcity.platform.errors import Conflict
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.schemas import DepartmentCreate
from smartcity.platform.permissions import Role

# Department users of the demo: (username, department short name, role).
DEPARTMENT_USERS = (
    ("gaj_admin", "市公安局", Role.DEPT_ADMIN),
    ("gaj_staff", "市公安局", Role.DEPT_STAFF),
    ("wjj_admin", "市卫生和计划生育局", Role.DEPT_ADMIN),
    ("scj_admin", "市市场监督管理局", Role.DEPT_ADMIN),
    ("mzj_admin", "市民政局", Role.DEPT_ADMIN),
    ("jxj_admin", "市经济和信息化局", Role.DEPT_ADMIN),
    ("gsj_admin", "市国税局", Role.DEPT_ADMIN),
    ("rsj_admin", "市人力资源和社会保障局", Role.DEPT_ADMIN),
    ("ymjd_staff", "阳明街道", Role.DEPT_STAFF),
)


@dataclass(frozen=True)
class DemoSummary:
    scale: str
    departments: int
    users: int
    entries_created: int
    entries_total: int
    collected: IngestSummary | None = None
    registries: RegistrySummary | None = None
    sharing: ExchangeSummary | None = None
    iot: IotSummary | None = None

    def __str__(self) -> str:
        text = (
            f"demo data ({self.scale}): {self.departments} departments, {self.users} users, "
            f"{self.entries_created} catalogue entries created ({self.entries_total} in the seed)"
        )
        text += f"; {self.collected}" if self.collected else ""
        text += f"; {self.registries}" if self.registries else ""
        text += f"; {self.sharing}" if self.sharing else ""
        return text + (f"; {self.iot}" if self.iot else "")


def load_departments(session: Session, by: Principal) -> int:
    """Create the seed departments that do not exist yet."""
    existing = set(identity.department_codes(session).values())
    for seed in DEPARTMENTS:
        if seed.code in existing:
            continue
        identity.create_department(
            session,
            by=by,
            data=DepartmentCreate(
                code=seed.code,
                name=seed.name,
                short_name=seed.short_name,
                kind=seed.kind,
                division_code=seed.division_code,
            ),
        )
    return len(DEPARTMENTS)


def load_users(session: Session) -> int:
    """The platform admin, an auditor and a few department users, all with the demo password."""
    password = get_settings().demo_admin_password
    fake = Faker("zh_CN")
    fake.seed_instance(330281)
    by_short = {seed.short_name: seed.code for seed in DEPARTMENTS}
    identity.ensure_user(
        session,
        username="admin",
        display_name="平台管理员",
        password=password,
        role=Role.PLATFORM_ADMIN,
        department_code=None,
    )
    identity.ensure_user(
        session,
        username="auditor",
        display_name=fake.name(),
        password=password,
        role=Role.AUDITOR,
        department_code=None,
    )
    for username, short_name, role in DEPARTMENT_USERS:
        identity.ensure_user(
            session,
            username=username,
            display_name=fake.name(),
            password=password,
            role=role,
            department_code=by_short[short_name],
        )
    return 2 + len(DEPARTMENT_USERS)


def load_catalogue(session: Session, by: Principal) -> int:
    """Publish every seed entry not yet in the catalogue, through the catalogue's own rules."""
    created = 0
    for raw in ENTRIES:
        try:
            with session.begin_nested():
                catalog.create_entry(session, by=by, data=EntryCreate.model_validate(raw))
            created += 1
        except Conflict:
            continue
    return created


def load_base() -> tuple[int, int, int]:
    """Departments, demo users and the catalogue, in one transaction: (departments, users, entries created)."""
    with unit_of_work() as session:
        bootstrap = identity.system_principal("demo-loader")
        departments = load_departments(session, bootstrap)
        users = load_users(session)
        admin = identity.principal_for(identity.get_user(session, by=bootstrap, username="admin"))
        return departments, users, load_catalogue(session, admin)


def load_demo(*, scale: str = "small") -> DemoSummary:
    """Load departments, users and the catalogue in one transaction, then the departments' data; running it again
    adds only what is missing.

    The seed catalogue already has the plan's full size (the plan counts 209 entries), so both scales load all of
    it; `scale` sets the volume of the record-level demo data (the departments' batches: about 14,000 rows
    small, about 3.3 million full, as the plan's base databases hold).
    """
    departments, users, created = load_base()
    collected = ingest_demo.load(scale=scale)
    registries = registry_demo.load(scale=scale)
    shared = exchange_demo.load()
    devices = iot_demo.load(scale=scale)
    return DemoSummary(
        scale=scale,
        departments=departments,
        users=users,
        entries_created=created,
        entries_total=len(ENTRIES),
        collected=collected,
        registries=registries,
        sharing=shared,
        iot=devices,
    )
