"""Catalogue search latency: the service layer against a bare SQL query on the same store.

Builds a fresh database with the real migrations, publishes N entries through the catalogue
service, then times a mix of searches both ways, interleaved, and prints p50/p95 and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, TextClause, text

from smartcity import db as dbmod
from smartcity import migrate
from smartcity.app import create_app
from smartcity.catalog import service as catalog
from smartcity.catalog.schemas import EntryCreate
from smartcity.catalog.service import EntryFilter
from smartcity.catalog.vocab import OpenType, SharingType, UpdateCycle
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.identity.schemas import DepartmentCreate
from smartcity.platform.paging import PageParams
from smartcity.platform.permissions import Role

PAGE = PageParams(page=1, page_size=20)
WARMUP_ROUNDS = 2
BATCH = 500
PG_URL = os.environ.get("SMARTCITY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def words(line: str) -> list[str]:
    """The space-separated items of a vocabulary line."""
    return line.split()


# 34 city bodies and 21 towns of Yuyao (code:short name).
CITY_BODIES = words(
    "GAJ:公安局 MZJ:民政局 RSJ:人力资源和社会保障局 WJJ:卫生健康局 SCJGJ:市场监督管理局 ZRZYJ:自然资源和规划局 "
    "JTJ:交通运输局 JYJ:教育局 ZJJ:住房和城乡建设局 YBJ:医疗保障局 SWJ:税务局 CZJ:财政局 TJJ:统计局 "
    "STHJJ:生态环境局 NYNCJ:农业农村局 SLJ:水利局 YJGLJ:应急管理局 WGLTJ:文化广电旅游体育局 SWUJ:商务局 "
    "FGJ:发展和改革局 JXJ:经济和信息化局 SFJ:司法局 TYJRJ:退役军人事务局 ZHZFJ:综合行政执法局 "
    "DSJJ:大数据发展管理局 KJJ:科学技术局 SJJ:审计局 DAG:档案馆 XFJY:消防救援大队 GJJ:住房公积金管理中心 "
    "CJRLH:残疾人联合会 ZWB:政务服务办公室 JGSWJ:机关事务管理局 RFB:人民防空办公室"
)
TOWNS = words(
    "YMJD:阳明街道 LZJD:梨洲街道 FSJD:凤山街道 LJJD:兰江街道 DTJD:低塘街道 LXJD:朗霞街道 MZZ:马渚镇 MSZ:牟山镇 "
    "ZTZ:丈亭镇 SQSZ:三七市镇 HMDZ:河姆渡镇 DYZ:大隐镇 LBZ:陆埠镇 LNZ:梁弄镇 DLZ:大岚镇 SMSZ:四明山镇 SIMZ:泗门镇 "
    "XCEZ:小曹娥镇 HJBZ:黄家埠镇 LSZ:临山镇 LTX:鹿亭乡"
)

# Topics by what a record describes (a person, an organisation, a thing or place), each with the body
# that mostly publishes it (topic:owner); towns and other bodies publish the rest.
TOPICS = {
    "person": words(
        "人口:GAJ 户籍:GAJ 婚姻:MZJ 低保:MZJ 社保:RSJ 就业:RSJ 养老:MZJ 医保:YBJ 残疾人:CJRLH "
        "退役军人:TYJRJ 学生:JYJ 教师:JYJ 出生:WJJ 殡葬:MZJ 公积金:GJJ"
    ),
    "legal": words(
        "法人:SCJGJ 企业:SCJGJ 个体工商户:SCJGJ 社会组织:MZJ 医疗机构:WJJ 学校:JYJ 药品经营:SCJGJ "
        "食品生产:SCJGJ 建筑企业:ZJJ 旅行社:WGLTJ 养老机构:MZJ"
    ),
    "thing": words(
        "不动产:ZRZYJ 车辆:GAJ 道路:JTJ 公交:JTJ 停车场:ZHZFJ 水质:STHJJ 空气质量:STHJJ 排污:STHJJ "
        "危险化学品:YJGLJ 消防设施:XFJY 河道:SLJ 耕地:ZRZYJ 文物:WGLTJ 体育场馆:WGLTJ"
    ),
}
OWNER_SHARE = 0.6
SUFFIXES = words(
    "基础信息 登记信息 变更记录 许可信息 统计数据 年检信息 备案信息 处罚信息 补贴发放 监测数据 台账 "
    "核查结果 信用评价 注销信息 申请信息 审批结果 档案 名录 巡查记录 预警信息"
)
FIELDS = {
    "person": "id_number:公民身份号码 full_name:姓名 gender:性别 birth_date:出生日期 address:户籍地址 phone:联系电话",
    "legal": "credit_code:统一社会信用代码 org_name:机构名称 legal_rep:法定代表人 reg_address:注册地址 "
    "licence_no:许可证编号 reg_date:登记日期",
    "thing": "record_no:编号 location:所在位置 owner:权利人 area:面积 status:状态 check_date:检查日期",
}
COMMON_FIELDS = words("updated_on:更新日期 source_dept:数据来源单位 remark:备注")
THEMES = words("民生服务 市场监管 城市管理 社会保障 自然资源 生态环境 公共安全 教育文化 医疗健康 交通出行")
PURPOSES = ("用于跨部门业务协同", "支撑一网通办事项办理", "服务基层治理和统计分析", "供监管执法核查使用")

# Single words, two-word queries, filters, an exact code, and a term that matches nothing.
QUERY_MIX = (
    EntryFilter(q="人口"),
    EntryFilter(q="企业"),
    EntryFilter(q="医疗 机构"),
    EntryFilter(q="社保 补贴"),
    EntryFilter(q="不动产 登记"),
    EntryFilter(q="车辆"),
    EntryFilter(q="学校 统计数据"),
    EntryFilter(q="低保", department="MZJ"),
    EntryFilter(q="许可", sharing_type=SharingType.UNCONDITIONAL),
    EntryFilter(department="GAJ"),
    EntryFilter(sharing_type=SharingType.NONE),
    EntryFilter(q="量子通信"),
    EntryFilter(q="330281-GAJ-00001"),
)


def departments() -> list[DepartmentCreate]:
    """The 55 departments entries are spread over."""
    rows = [(item, "department") for item in CITY_BODIES] + [(item, "town") for item in TOWNS]
    return [
        DepartmentCreate(code=code, name=f"余姚市{short}", short_name=short, kind=kind)
        for (code, short), kind in ((item.split(":"), kind) for item, kind in rows)
    ]


def entries(count: int, depts: list[DepartmentCreate], rng: random.Random) -> list[EntryCreate]:
    """`count` plausible entries with unique names and codes, the same for the same seed."""
    names: set[str] = set()
    sequence = dict.fromkeys((d.code for d in depts), 0)
    by_code = {d.code: d for d in depts}
    result: list[EntryCreate] = []
    while len(result) < count:
        kind = rng.choice(list(TOPICS))
        topic, owner = rng.choice(TOPICS[kind]).split(":")
        dept = by_code[owner] if rng.random() < OWNER_SHARE else rng.choice(depts)
        suffix = rng.choice(SUFFIXES)
        place = dept.short_name if dept.kind == "town" else rng.choice(("", "全市", "市区"))
        year = rng.choice(("", "", "2021年", "2022年", "2023年", "2024年", "2025年"))
        name = f"{place}{year}{topic}{suffix}"
        if name in names:
            continue
        names.add(name)
        sequence[dept.code] += 1
        sharing = rng.choices(list(SharingType), weights=(35, 50, 15))[0]
        opening = OpenType.NONE if sharing is SharingType.NONE else rng.choices(list(OpenType), weights=(25, 15, 60))[0]
        key, *others = FIELDS[kind].split()
        picked = [key, *rng.sample(others, rng.randint(2, len(others))), *rng.sample(COMMON_FIELDS, rng.randint(0, 2))]
        fields = [
            {"name": n, "title": t, "required": i == 0, "key": i == 0, "sensitive": kind == "person" and i < 2}
            for i, (n, t) in enumerate(item.split(":") for item in picked)
        ]
        result.append(
            EntryCreate(
                code=f"330281-{dept.code}-{sequence[dept.code]:05d}",
                name=name,
                department=dept.code,
                description=f"{dept.name}归集的{name}，{rng.choice(PURPOSES)}。",
                sharing_type=sharing,
                sharing_condition="" if sharing is SharingType.UNCONDITIONAL else "仅限法定职责范围内使用",
                open_type=opening,
                open_condition="申请后按协议开放" if opening is OpenType.CONDITIONAL else "",
                update_cycle=rng.choice(list(UpdateCycle)),
                tags=[topic, rng.choice(THEMES), suffix],
                fields=fields,
            )
        )
    return result


@contextmanager
def fresh_store(store: str, pg_url: str) -> Iterator[Engine]:
    """An empty database: an SQLite file in a temp folder, or a throw-away PostgreSQL schema."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="smartcity-bench-") as folder:
            engine = dbmod.build_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    with dbmod.scratch_postgres_schema(pg_url, prefix="bench") as engine:
        yield engine


def bench_principal(username: str, role: Role, department: str | None) -> Principal:
    """The principal of a benchmark user, created on first use."""
    with dbmod.unit_of_work() as session:
        user = identity.ensure_user(
            session,
            username=username,
            display_name=username,
            password="bench-pass-1",
            role=role,
            department_code=department,
        )
        return identity.principal_for(user)


def populate(engine: Engine, store: str, count: int, seed: int, console: Console) -> Principal:
    """Migrate, publish departments and entries through the services; returns the searching principal."""
    migrate.upgrade(engine)
    dbmod.configure(engine)
    depts = departments()
    rows = entries(count, depts, random.Random(seed))
    admin = bench_principal("bench-admin", Role.PLATFORM_ADMIN, None)
    with Progress(*Progress.get_default_columns(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"{store}: departments", total=len(depts))
        with dbmod.unit_of_work() as session:
            for dept in depts:
                identity.create_department(session, by=admin, data=dept)
                progress.advance(task)
        task = progress.add_task(f"{store}: entries", total=len(rows))
        for start in range(0, len(rows), BATCH):
            with dbmod.unit_of_work() as session:
                for row in rows[start : start + BATCH]:
                    catalog.create_entry(session, by=admin, data=row)
                    progress.advance(task)
    with engine.begin() as conn:
        for table in ("department", "catalog_entry", "catalog_entry_version"):
            conn.execute(text(f"ANALYZE {table}"))
    return bench_principal("bench-clerk", Role.DEPT_STAFF, "GAJ")


def bare_query(flt: EntryFilter) -> tuple[TextClause, dict[str, Any]]:
    """The same first page as the service, as one hand-written statement with bound parameters."""
    terms = [t.lower() for t in (flt.q or "").split()][: catalog.MAX_QUERY_TERMS]
    where = [f"search_text LIKE :t{i}" for i in range(len(terms))]
    params: dict[str, Any] = {f"t{i}": f"%{t}%" for i, t in enumerate(terms)}
    if flt.department:
        where.append("department_id = (SELECT id FROM department WHERE code = :dept)")
        params["dept"] = flt.department
    if flt.sharing_type:
        where.append("sharing_type = :sharing")
        params["sharing"] = flt.sharing_type.value
    if flt.open_type:
        where.append("open_type = :opening")
        params["opening"] = flt.open_type.value
    order = "code"
    if terms:  # the service ranks an exact code first, then name matches
        order = "CASE WHEN code = :code THEN 0 WHEN name LIKE :lead THEN 1 ELSE 2 END, code"
        params |= {"code": (flt.q or "").strip().upper(), "lead": f"%{terms[0]}%"}
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT id, code, name FROM catalog_entry{clause} ORDER BY {order} LIMIT {PAGE.page_size}"
    return text(sql), params


def run_service(by: Principal, flt: EntryFilter) -> tuple[int, list[str], int]:
    """One search through the service as a request would make it; (ns, codes, total)."""
    start = time.perf_counter_ns()
    with dbmod.unit_of_work() as session:
        items, total = catalog.search_entries(session, by=by, flt=flt, params=PAGE)
    return time.perf_counter_ns() - start, [item.code for item in items], total


def run_bare(engine: Engine, stmt: TextClause, params: dict[str, Any]) -> tuple[int, list[str]]:
    """The bare statement on a pooled connection of the same engine; (ns, codes)."""
    start = time.perf_counter_ns()
    with engine.connect() as conn:
        rows = conn.execute(stmt, params).all()
    return time.perf_counter_ns() - start, [row.code for row in rows]


def label(flt: EntryFilter) -> str:
    """A short description of a filter for messages."""
    parts = [repr(flt.q)] if flt.q else []
    parts += [f"{k}={v}" for k, v in (("department", flt.department), ("sharing", flt.sharing_type)) if v]
    return " ".join(parts)


def percentiles(samples: list[int]) -> tuple[float, float]:
    """p50 and p95 of nanosecond samples, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] / 1e6, cuts[94] / 1e6


def bench_store(store: str, args: argparse.Namespace, console: Console) -> bool:
    """Build, check and time one store; False if the service and the bare query disagree."""
    with fresh_store(store, args.pg_url) as engine:
        clerk = populate(engine, store, args.entries, args.seed, console)
        info = engine.dialect.server_version_info or ()
        version = f"{'SQLite' if store == 'sqlite' else 'PostgreSQL'} {'.'.join(map(str, info))}"
        prepared = [(flt, *bare_query(flt)) for flt in QUERY_MIX]
        hits = []
        for flt, stmt, params in prepared:
            _, service_codes, total = run_service(clerk, flt)
            _, bare_codes = run_bare(engine, stmt, params)
            if service_codes != bare_codes:
                console.print(f"[red]{store}: first pages differ for {label(flt)}[/]")
                console.print(f"  service:  {service_codes}\n  bare SQL: {bare_codes}")
                return False
            hits.append(f"{label(flt)} {total}")
        console.print(
            f"[dim]{store}: first pages identical (same order) for all {len(prepared)} queries; "
            f"hits: {', '.join(hits)}[/]",
            soft_wrap=True,
        )
        for _ in range(WARMUP_ROUNDS):
            for flt, stmt, params in prepared:
                run_service(clerk, flt)
                run_bare(engine, stmt, params)
        service: list[int] = []
        bare: list[int] = []
        for i in range(args.queries):
            flt, stmt, params = prepared[i % len(prepared)]
            if i % 2:  # alternate who goes first so neither always finds a warmer cache
                bare.append(run_bare(engine, stmt, params)[0])
                service.append(run_service(clerk, flt)[0])
            else:
                service.append(run_service(clerk, flt)[0])
                bare.append(run_bare(engine, stmt, params)[0])
    (s50, s95), (b50, b95) = percentiles(service), percentiles(bare)
    table = Table(title=f"catalogue search — {version}", caption=f"{args.entries} entries, {args.queries} queries")
    for column in ("", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row("service layer", f"{s50:.2f}", f"{s95:.2f}")
    table.add_row("bare SQL", f"{b50:.2f}", f"{b95:.2f}")
    table.add_row("ratio service/bare", f"{s50 / b50:.1f}x", f"{s95 / b95:.1f}x", style="bold")
    console.print(table)
    print(
        f"{store}: {args.entries} entries, service p50 {s50:.1f} ms p95 {s95:.1f} ms | "
        f"bare SQL p50 {b50:.1f} ms p95 {b95:.1f} ms | ratio p50 {s50 / b50:.1f}x p95 {s95 / b95:.1f}x"
    )
    return True


def main() -> int:
    """Parse the options and benchmark each requested store."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=10_000, help="catalogue entries to publish (default 10000)")
    parser.add_argument("--queries", type=int, default=300, help="timed searches per path (default 300)")
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server; a throw-away schema is used")
    parser.add_argument("--seed", type=int, default=20261123, help="seed of the generated catalogue")
    args = parser.parse_args()
    if args.queries < 2 or args.entries < 1:
        parser.error("--queries needs at least 2 and --entries at least 1")
    create_app()  # fills the permission registry the principals draw on
    console = Console()
    stores = ("sqlite", "postgresql") if args.store == "both" else (args.store,)
    return 0 if all([bench_store(store, args, console) for store in stores]) else 1


if __name__ == "__main__":
    sys.exit(main())
