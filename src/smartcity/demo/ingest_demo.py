"""The data collection loop of the Yuyao demo: six departments feed the hub over two months, with known errors.

Every batch goes through the real services as the department's data officer would send it: 市公安局 a UTF-8 CSV
of the population register, 市市场监督管理局 a CSV with BOM exported from Excel (village collectives with N2
credit codes among the firms), 市国税局 a GBK CSV whose addresses are compared with the market regulator's,
市人力资源和社会保障局 an XLSX workbook (with IDs that Excel turned into numbers), 市卫生和计划生育局 a GBK CSV
with its own column names (mapped once, remembered), 市民政局 JSON Lines checked against the population
register. About 1% of the rows carry the errors departments really make (plan 二(二)3: 4.7万 problem records in
450万). Corrections arrive weeks later and close their feedback items; one item is disputed.

`Planned.truth` keeps what was broken on purpose, so a test can check that exactly those problems are found.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import polars as pl
from sqlalchemy.orm import Session
from stdnum.cn import ric

from smartcity.config import get_settings
from smartcity.db import unit_of_work
from smartcity.demo import records
from smartcity.demo.catalog_seed import ENTRIES
from smartcity.ingest import feedback, files, pipeline, reports, ruleset
from smartcity.ingest import service as batches
from smartcity.ingest.feedback import FeedbackFilter
from smartcity.ingest.mapping import FEEDBACK_COLUMN, ROW_COLUMN
from smartcity.ingest.schemas import FeedbackDispute, FeedbackReview, RuleIn
from smartcity.ingest.vocab import FeedbackStatus, Source
from smartcity.platform.identifiers import resident_id_problem, resident_id_sex
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams

Problem = tuple[int, str, str, str]  # (row number, field, rule kind, detail)

POPULATION = "330281-GAJ-00001"
FIRMS = "330281-SCJ-00001"
TAX = "330281-GSJ-00001"
INSURED = "330281-RSJ-00001"
HEALTH = "330281-WJJ-00001"
ASSISTANCE = "330281-MZJ-00001"

# (scale → rows) per department's first delivery; full scale follows the plan's figures.
VOLUMES = {
    "small": {"people": 5000, "firms": 2000, "tax": 1500, "insured": 3000, "health": 2000, "assistance": 300},
    "full": {
        "people": 2_000_000,  # 人口基础数据库 200多万条
        "firms": 100_000,
        "tax": 80_000,
        "insured": 325_000,  # 企业基本养老保险参保 32.5万人
        "health": 800_000,  # 居民电子健康档案 80余万份
        "assistance": 7_611,  # 低保对象 7611人
    },
}


@dataclass
class Planned:
    """One file a department sends: its content, how it is encoded, when it arrived, what is wrong in it."""

    code: str
    user: str
    filename: str
    frame: pl.DataFrame
    days_ago: int
    encoding: str = "utf-8"
    truth: list[Problem] = field(default_factory=list)
    numeric_cells: set[str] = field(default_factory=set)
    # A correction: the rejected rows of the file `answers` downloaded, `share` of them set right from `clean`.
    answers: str | None = None
    clean: pl.DataFrame | None = None
    share: float = 1.0

    def payload(self) -> bytes:
        """The file's bytes in its format and encoding."""
        if self.filename.endswith(".xlsx"):
            return _xlsx(self.frame, self.numeric_cells)
        if self.filename.endswith(".jsonl"):
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.frame.to_dicts()).encode("utf-8")
        text = self.frame.write_csv()
        if self.encoding == "utf-8-sig":
            return ("\ufeff" + text).encode("utf-8")
        return text.encode(self.encoding)


def _xlsx(frame: pl.DataFrame, numbers: set[str]) -> bytes:
    """A workbook of the frame; the values in `numbers` are stored as numeric cells, as Excel does when one
    types an ID without a leading apostrophe."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.append(frame.columns)
    for row in frame.iter_rows():
        sheet.append([int(v) if v in numbers else v for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class Breaker:
    """Puts known errors into chosen rows of a frame and remembers them.

    Changes are collected and applied column by column at the end (one scatter each), so planting twenty
    thousand errors in two million rows takes as long as planting ten.
    """

    def __init__(self, frame: pl.DataFrame, rng: np.random.Generator, first_row: int = 2) -> None:
        self._frame = frame
        self.rng = rng
        self.first_row = first_row  # the row number of the first record: 2 below a header, 1 in JSON Lines
        self.used: set[int] = set()
        self.truth: list[Problem] = []
        self._changes: dict[str, dict[int, str | None]] = {}

    @property
    def frame(self) -> pl.DataFrame:
        """The frame with every change applied."""
        if self._changes:
            columns = []
            for column, changes in self._changes.items():
                indices = pl.Series(list(changes), dtype=pl.UInt32)
                values = pl.Series(list(changes.values()), dtype=pl.String)
                columns.append(self._frame.get_column(column).cast(pl.String).scatter(indices, values))
            self._frame = self._frame.with_columns(columns)
            self._changes = {}
        return self._frame

    def rows(self, count: int) -> list[int]:
        free = np.setdiff1d(np.arange(self._frame.height), np.fromiter(self.used, dtype=np.int64, count=len(self.used)))
        chosen = [int(i) for i in self.rng.choice(free, size=min(count, len(free)), replace=False)]
        self.used.update(chosen)
        return chosen

    def set(self, index: int, column: str, value: str | None) -> None:
        self._changes.setdefault(column, {})[index] = value

    def get(self, index: int, column: str) -> str:
        changed = self._changes.get(column, {})
        return str(changed[index]) if index in changed else str(self._frame[index, column])

    def expect(self, index: int, field_name: str, kind: str, detail: str) -> None:
        self.truth.append((index + self.first_row, field_name, kind, detail))

    def each(self, count: int, change: Callable[[int], None]) -> None:
        for index in self.rows(count):
            change(index)


def _wrong_check(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def _titles(code: str, columns: list[str]) -> dict[str, str]:
    """The catalogue titles of an entry's fields among `columns`: the headers its department's files carry."""
    entry = next(e for e in ENTRIES if e["code"] == code)
    return {f["name"]: f["title"] for f in entry["fields"] if f["name"] in columns}


def _scaled(count: int, rows: int, base: int) -> int:
    return max(1, round(count * rows / base))


def population(rows: int) -> tuple[pl.DataFrame, Planned]:
    """市公安局's register: all valid people, and the file sent with ~1% errors."""
    people = records.people(rows, seed=330282)
    broken = Breaker(people.rename(_titles(POPULATION, people.columns)), np.random.default_rng(1))

    def checksum(i: int) -> None:
        broken.set(i, "公民身份号码", _wrong_check(broken.get(i, "公民身份号码")))
        broken.expect(i, "resident_id", "resident_id", "checksum")

    def birth(i: int) -> None:
        day = dt.date.fromisoformat(broken.get(i, "出生日期")) + dt.timedelta(days=int(broken.rng.integers(1, 40)))
        broken.set(i, "出生日期", day.isoformat())
        broken.expect(i, "resident_id", "resident_id", "birth_date_mismatch")

    def sex(i: int) -> None:
        broken.set(i, "性别", "1" if broken.get(i, "性别") == "2" else "2")
        broken.expect(i, "resident_id", "resident_id", "sex_mismatch")

    def town(i: int) -> None:
        broken.set(i, "所属乡镇（街道）", "330281999")
        broken.expect(i, "town_code", "enum", "enum")

    def name(i: int) -> None:
        broken.set(i, "姓名", None)
        broken.expect(i, "full_name", "required", "required")

    def settled(i: int) -> None:
        broken.set(i, "入户日期", "2031-05-01")
        broken.expect(i, "settle_date", "date_sanity", "future")

    for count, change in ((15, checksum), (10, birth), (10, sex), (8, town), (5, name), (5, settled)):
        broken.each(_scaled(count, rows, 5000), change)
    return people, Planned(POPULATION, "gaj_admin", "人口基础信息_全量.csv", broken.frame, 55, truth=broken.truth)


def corrections(planned: Planned, clean: pl.DataFrame, share: float, days_ago: int, filename: str) -> Planned:
    """The department's answer to its feedback: the downloaded problem rows, part of them corrected."""
    columns = clean.columns[: len(planned.frame.columns)]
    titled = clean.select(columns).rename(dict(zip(columns, planned.frame.columns, strict=True)))
    return Planned(
        planned.code,
        planned.user,
        filename,
        pl.DataFrame(),
        days_ago,
        planned.encoding,
        answers=planned.filename,
        clean=titled,
        share=share,
    )


def corrected_download(download: str, planned: Planned) -> pl.DataFrame:
    """The rejected-rows CSV as the department fixes it: the right values put back into the rows it can fix."""
    assert planned.clean is not None
    rows = pl.read_csv(io.StringIO(download.lstrip("\ufeff")), infer_schema=False)
    rows = rows.head(int(rows.height * planned.share))
    fixed = planned.clean[[int(r) - 2 for r in rows[ROW_COLUMN].to_list()]]
    return fixed.with_columns(rows[ROW_COLUMN], rows[FEEDBACK_COLUMN])


def firms(rows: int) -> tuple[pl.DataFrame, Planned]:
    """市市场监督管理局's legal entities (with village collectives, whose codes start N2), CSV with BOM."""
    villages = max(3, rows * 15 // 1000)
    clean = records.companies(rows, villages=villages)
    broken = Breaker(clean.rename(_titles(FIRMS, clean.columns)), np.random.default_rng(32100))
    broken.used.update(range(rows - villages, rows))  # the collectives stay valid: N2… codes are right

    def checksum(i: int) -> None:
        broken.set(i, "统一社会信用代码", _wrong_check(broken.get(i, "统一社会信用代码")))
        broken.expect(i, "credit_code", "uscc", "checksum")

    def future(i: int) -> None:
        broken.set(i, "成立日期", "2029-03-15")
        broken.expect(i, "established_date", "date_sanity", "future")

    def status(i: int) -> None:
        broken.set(i, "登记状态", "9")
        broken.expect(i, "registration_status", "enum", "enum")

    for count, change in ((12, checksum), (5, future), (3, status)):
        broken.each(_scaled(count, rows, 2000), change)
    return clean, Planned(FIRMS, "scj_admin", "法人单位基础信息.csv", broken.frame, 56, "utf-8-sig", broken.truth)


def tax(firms_clean: pl.DataFrame, rows: int, unregistered: set[str]) -> Planned:
    """市国税局's taxpayers (a subset of the firms), GBK CSV; addresses written its own way, some really differ."""
    rng = np.random.default_rng(11643)
    picked = firms_clean.filter(~pl.col("org_name").str.ends_with("经济合作社")).sample(rows, seed=7)
    address = picked["domicile"]
    # The same address written as tax offices do: without the province and city, or in full-width digits.
    short = rng.random(rows) < 0.2
    wide = rng.random(rows) < 0.05
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    written = []
    for value, drop_prefix, widen in zip(address.to_list(), short, wide, strict=True):
        text = value.removeprefix("浙江省宁波市") if drop_prefix else value
        written.append(text.translate(full_width) if widen else text)
    frame = pl.DataFrame(
        {
            "统一社会信用代码": picked["credit_code"],
            "纳税人名称": picked["org_name"],
            "登记注册类型": pl.Series(rng.choice(np.array(["159", "173", "174", "110"]), size=rows)),
            "行业代码": picked["industry_code"],
            "注册地址": pl.Series(written),
            "主管税务所（科、分局）": pl.Series(
                rng.choice(np.array(["城区税务所", "泗门税务所", "陆埠税务所", "马渚税务所"]), size=rows)
            ),
            "纳税人状态": pl.Series(np.where(rng.random(rows) < 0.95, "1", "2")),
            "登记日期": picked["established_date"],
        }
    )
    broken = Breaker(frame, rng)
    # Firms the market regulator's file got wrong are not in its register yet: nothing to compare them with.
    codes = frame["统一社会信用代码"].to_list()
    broken.used.update(i for i, code in enumerate(codes) if code in unregistered)

    def moved(i: int) -> None:
        broken.set(i, "注册地址", f"浙江省宁波市余姚市{records.ROADS[i % len(records.ROADS)]}{900 + i % 90}号")
        broken.expect(i, "registered_address", "compare", "mismatch")

    def renamed(i: int) -> None:
        # The name the firm traded under before it changed its registration (厂 → 有限公司, a new line of business).
        name = broken.get(i, "纳税人名称")
        broken.set(i, "纳税人名称", name.replace("有限公司", "贸易有限公司") if "有限公司" in name else name + "经营部")
        broken.expect(i, "org_name", "compare", "mismatch")

    def checksum(i: int) -> None:
        broken.set(i, "统一社会信用代码", _wrong_check(broken.get(i, "统一社会信用代码")))
        broken.expect(i, "credit_code", "uscc", "checksum")

    for count, change in ((30, moved), (10, renamed), (8, checksum)):
        broken.each(_scaled(count, rows, 1500), change)
    return Planned(TAX, "gsj_admin", "国税登记信息导出.csv", broken.frame, 50, "gbk", broken.truth)


def insured(people: pl.DataFrame, firms_clean: pl.DataFrame, rows: int, unregistered: set[str]) -> Planned:
    """市人力资源和社会保障局's insured persons, an XLSX workbook; a few IDs became numbers in Excel."""
    rng = np.random.default_rng(2161)
    persons = people.sample(rows, seed=3)
    employers = firms_clean.filter(~pl.col("credit_code").is_in(list(unregistered))).sample(
        rows, seed=4, with_replacement=True
    )
    frame = pl.DataFrame(
        {
            "公民身份号码": persons["resident_id"],
            "姓名": persons["full_name"],
            "性别": persons["gender_code"],
            "险种类型": pl.Series(rng.choice(np.array(["110", "210", "310", "410", "510"]), size=rows)),
            "参保单位统一社会信用代码": employers["credit_code"],
            "参保单位名称": employers["org_name"],
            "参保状态": pl.Series(rng.choice(np.array(["1", "1", "1", "2", "3"]), size=rows)),
            "本次参保日期": persons["settle_date"],
            "月缴费基数": pl.Series(np.round(rng.uniform(3321, 16000, size=rows), 2)).cast(pl.String),
            "累计缴费月数": pl.Series(rng.integers(1, 420, size=rows)).cast(pl.String),
        }
    )
    broken = Breaker(frame, rng)

    numbers: set[str] = set()

    def outsider(i: int) -> None:
        # An employer registered in Ningbo's Haishu district: a valid code the Yuyao register does not hold.
        code = str(records.credit_codes(np.random.default_rng(i), 1, prefix="91", region="330203")[0])
        broken.set(i, "参保单位统一社会信用代码", code)
        broken.expect(i, "employer_credit_code", "compare", "missing")

    def checksum(i: int) -> None:
        broken.set(i, "公民身份号码", _wrong_check(broken.get(i, "公民身份号码")))
        broken.expect(i, "resident_id", "resident_id", "checksum")

    def numeric(i: int) -> None:
        # A number cell holds a double: 18 digits come back with the last ones changed.
        value = broken.get(i, "公民身份号码")
        if not value.isdigit():  # an ID ending in X cannot be typed as a number
            return
        numbers.add(value)
        read_back = str(int(float(value)))
        problem = resident_id_problem(read_back)
        if problem is None and resident_id_sex(read_back) != broken.get(i, "性别"):
            problem = "sex_mismatch"
        if problem is not None:
            broken.expect(i, "resident_id", "resident_id", problem)

    for count, change in ((10, checksum), (3, numeric), (15, outsider)):
        broken.each(_scaled(count, rows, 3000), change)
    return Planned(INSURED, "rsj_admin", "参保登记.xlsx", broken.frame, 45, truth=broken.truth, numeric_cells=numbers)


def health(people: pl.DataFrame, rows: int) -> Planned:
    """市卫生和计划生育局's health records: a GBK CSV with the hospital system's own column names."""
    rng = np.random.default_rng(364)
    persons = people.sample(rows, seed=5)
    created = persons.select(
        (
            pl.max_horizontal(pl.col("birth_date").str.to_date(), pl.lit(dt.date(2009, 1, 1)))
            + pl.Series(rng.integers(0, 3000, size=rows)) * pl.duration(days=1)
        ).dt.strftime("%Y-%m-%d")
    ).to_series()
    organisations = np.array(
        [f"{name}社区卫生服务中心" if name.endswith("街道") else f"{name}卫生院" for name in records.TOWN_NAMES]
    )
    town_index = rng.integers(0, len(organisations), size=rows)
    frame = pl.DataFrame(
        {
            "档案编号": pl.Series(np.arange(rows) + 33028100000000001).cast(pl.String),
            "身份证号": persons["resident_id"],
            "姓名": persons["full_name"],
            "性别": persons["gender_code"],
            "血型": pl.Series(rng.choice(np.array(["1", "2", "3", "4", "5"]), size=rows)),
            "慢病": pl.Series(rng.choice(np.array(["", "", "", "高血压", "糖尿病", "高血压、糖尿病"]), size=rows)),
            "过敏史": pl.Series(rng.choice(np.array(["", "", "", "青霉素", "磺胺类"]), size=rows)),
            "末次体检": created,
            "建档单位": pl.Series(organisations[town_index]),
            "乡镇街道": pl.Series(records.TOWN_CODES[town_index]),
            "建档时间": created,
        }
    )
    broken = Breaker(frame, rng)

    def checksum(i: int) -> None:
        broken.set(i, "身份证号", _wrong_check(broken.get(i, "身份证号")))
        broken.expect(i, "resident_id", "resident_id", "checksum")

    def orphaned(i: int) -> None:
        broken.set(i, "建档单位", None)
        broken.expect(i, "managing_org", "required", "required")

    def future(i: int) -> None:
        broken.set(i, "建档时间", "2030-01-01")
        broken.expect(i, "created_date", "date_sanity", "future")

    for count, change in ((10, checksum), (5, orphaned), (4, future)):
        broken.each(_scaled(count, rows, 2000), change)
    return Planned(HEALTH, "wjj_admin", "健康档案导出.csv", broken.frame, 40, "gbk", broken.truth)


HEALTH_COLUMNS: dict[str, str | None] = {
    "档案编号": "record_no",
    "身份证号": "resident_id",
    "姓名": "full_name",
    "性别": "gender_code",
    "血型": "blood_type",
    "慢病": "chronic_diseases",
    "过敏史": "allergies",
    "末次体检": "last_checkup_date",
    "建档单位": "managing_org",
    "乡镇街道": "town_code",
    "建档时间": "created_date",
}


def assistance(people: pl.DataFrame, rows: int, unregistered: set[str]) -> Planned:
    """市民政局's minimum-income families (低保), JSON Lines from its assistance system."""
    rng = np.random.default_rng(7611)
    members = people.filter(~pl.col("resident_id").is_in(list(unregistered))).sample(rows, seed=6)
    families = np.arange(rows) // 2 + 1
    frame = pl.DataFrame(
        {
            "family_no": "DB330281" + pl.Series(families).cast(pl.String).str.zfill(6),
            "member_id": members["resident_id"],
            "member_name": members["full_name"],
            "relation": pl.Series(np.where(np.arange(rows) % 2 == 0, "02", "10")),
            "area_type": pl.Series(rng.choice(np.array(["1", "2", "2", "2"]), size=rows)),
            "town_code": members["town_code"],
            "family_size": pl.Series(np.full(rows, 2)).cast(pl.String),
            "monthly_allowance": pl.Series(np.round(rng.uniform(800, 1800, size=rows), 2)).cast(pl.String),
            "approved_date": members["settle_date"],
        }
    )
    broken = Breaker(frame, rng, first_row=1)

    def stranger(i: int) -> None:
        # A member registered elsewhere: a valid ID the population register of Yuyao does not hold.
        born = dt.date(1960, 1, 1) + dt.timedelta(days=i * 7)
        body = f"341221{born:%Y%m%d}{i % 900 + 100:03d}"
        broken.set(i, "member_id", body + ric.calc_check_digit(body + "?"))  # the last character is ignored
        broken.expect(i, "member_id", "compare", "missing")

    for count, change in ((3, stranger),):
        broken.each(_scaled(count, rows, 300), change)
    return Planned(ASSISTANCE, "mzj_admin", "低保对象.jsonl", broken.frame, 35, truth=broken.truth)


# --- loading ---------------------------------------------------------------------------------------------------

DEMO_USERS = ("admin", "gaj_admin", "scj_admin", "gsj_admin", "rsj_admin", "wjj_admin", "mzj_admin")


@dataclass(frozen=True)
class IngestSummary:
    batches: int
    rows: int
    quarantined: int
    feedback_open: int

    def __str__(self) -> str:
        return (
            f"data collection: {self.batches} batches, {self.rows} rows received, {self.quarantined} quarantined, "
            f"{self.feedback_open} feedback items open"
        )


def compare_rules() -> list[tuple[str, RuleIn]]:
    """The cross-department comparisons (比对) of the demo."""
    return [
        (
            TAX,
            RuleIn.model_validate(
                {
                    "field": "registered_address",
                    "kind": "compare",
                    "params": {"entry": FIRMS, "match": {"credit_code": "credit_code"}, "other_field": "domicile"},
                    "severity": "warning",
                    "note": "注册地址与市场监管登记住所比对",
                }
            ),
        ),
        (
            TAX,
            RuleIn.model_validate(
                {
                    "field": "org_name",
                    "kind": "compare",
                    "params": {"entry": FIRMS, "match": {"credit_code": "credit_code"}, "other_field": "org_name"},
                    "severity": "warning",
                    "note": "纳税人名称与企业名称比对",
                }
            ),
        ),
        (
            INSURED,
            RuleIn.model_validate(
                {
                    "field": "employer_credit_code",
                    "kind": "compare",
                    "params": {"entry": FIRMS, "match": {"employer_credit_code": "credit_code"}, "mode": "exists"},
                    "severity": "warning",
                    "note": "参保单位应在本市法人库中",
                }
            ),
        ),
        (
            ASSISTANCE,
            RuleIn.model_validate(
                {
                    "field": "member_id",
                    "kind": "compare",
                    "params": {"entry": POPULATION, "match": {"member_id": "resident_id"}, "mode": "exists"},
                    "note": "低保成员应为本市户籍人口",
                }
            ),
        ),
    ]


def plans(scale: str) -> list[Planned]:
    """Every file of the demo, in the order the departments send them (oldest first)."""
    volume = VOLUMES[scale]
    people, gaj = population(volume["people"])
    firms_clean, scj = firms(volume["firms"])
    # Records the first files got wrong are not in the registers yet when the other departments' files arrive.
    quarantined_firms = {firms_clean["credit_code"][row - 2] for row, *_ in scj.truth}
    quarantined_people = {people["resident_id"][row - 2] for row, *_ in gaj.truth}
    planned = [scj, gaj, tax(firms_clean, volume["tax"], quarantined_firms)]
    planned.append(insured(people, firms_clean, volume["insured"], quarantined_firms))
    planned += [health(people, volume["health"]), assistance(people, volume["assistance"], quarantined_people)]
    weekly = max(40, volume["people"] // 100)
    for week, days_ago in enumerate((49, 42, 35, 28, 21, 14, 7), start=1):
        newcomers = records.people(weekly, seed=900 + week).rename(
            dict(zip(people.columns, gaj.frame.columns, strict=True))
        )
        planned.append(Planned(POPULATION, "gaj_admin", f"人口变动_第{week}周.csv", newcomers, days_ago))
    planned.append(corrections(gaj, people, 0.6, 20, "人口基础信息_问题数据整改.csv"))
    planned.append(corrections(scj, firms_clean.select(firms_clean.columns), 1.0, 30, "法人单位_整改.csv"))
    return sorted(planned, key=lambda p: -p.days_ago)


def _received(days_ago: int) -> dt.datetime:
    today = dt.datetime.now(ZoneInfo(get_settings().timezone)).replace(hour=10, minute=0, second=0, microsecond=0)
    return (today - dt.timedelta(days=days_ago)).astimezone(dt.UTC)


def _principals(session: Session) -> dict[str, Principal]:
    loader = identity.system_principal("demo-loader")
    return {name: identity.principal_for(identity.get_user(session, by=loader, username=name)) for name in DEMO_USERS}


def already_loaded(session: Session) -> bool:
    by = identity.system_principal("demo-loader")
    return (
        batches.list_batches(session, by=by, flt=batches.BatchFilter(entry_code=POPULATION), params=PageParams())[1] > 0
    )


def submit(session: Session, planned: Planned, by: Principal) -> int:
    """Send one file through the services, as its department would, and return the batch id."""
    stored = files.store_chunks(iter([planned.payload()]), planned.filename)
    submission = batches.submit_batch(
        session,
        by=by,
        code=planned.code,
        stored=stored,
        source=Source.UPLOAD,
        enqueue=False,
        received_at=_received(planned.days_ago),
    )
    return submission.batch.id


def load(*, scale: str = "small") -> IngestSummary | None:
    """Replay two months of submissions; does nothing if the demo's batches are already there."""
    with unit_of_work() as session:
        if already_loaded(session):
            return None
        users = _principals(session)
        for code in (POPULATION, FIRMS, TAX, INSURED, HEALTH, ASSISTANCE):
            ruleset.apply_suggestions(session, by=users["admin"], code=code)
        for code, rule in compare_rules():
            ruleset.create_rule(session, by=users["admin"], code=code, data=rule)
        reports.put_saved_mapping(session, by=users["wjj_admin"], code=HEALTH, columns=HEALTH_COLUMNS)
    ids: list[int] = []
    by_file: dict[str, int] = {}
    for planned in plans(scale):
        with unit_of_work() as session:
            if planned.answers is not None:
                _, lines = reports.rejected_csv(
                    session, by=users[planned.user], batch_id=by_file[planned.answers], locale="zh_CN"
                )
                planned.frame = corrected_download("".join(lines), planned)
            batch_id = submit(session, planned, users[planned.user])
        pipeline.process_batch(batch_id)
        ids.append(batch_id)
        by_file[planned.filename] = batch_id
    with unit_of_work() as session:
        _answer_feedback(session, users)
        read = batches.batch_reads(
            session, [batches.get_batch(session, by=users["admin"], batch_id=i) for i in ids], "en"
        )
        open_items = feedback.counts(session, by=users["admin"]).get(FeedbackStatus.OPEN.value, 0)
    return IngestSummary(
        batches=len(ids),
        rows=sum(b.rows.total for b in read),
        quarantined=sum(b.rows.rejected for b in read),
        feedback_open=open_items,
    )


def _first(session: Session, by: Principal, code: str, status: FeedbackStatus, kind: str | None = None) -> list[int]:
    items, _ = feedback.list_items(
        session, by=by, flt=FeedbackFilter(status=status, entry_code=code), params=PageParams(page=1, page_size=100)
    )
    return [i.id for i in items if kind is None or any(p["kind"] == kind for p in i.problems)]


def _answer_feedback(session: Session, users: dict[str, Principal]) -> None:
    """What departments and the hub did with the feedback: disputes, their review, verified corrections."""
    hub = users["admin"]
    town_items = _first(session, users["gaj_admin"], POPULATION, FeedbackStatus.OPEN, "enum")
    if town_items:
        feedback.dispute(
            session,
            by=users["gaj_admin"],
            item_id=town_items[0],
            data=FeedbackDispute(reason="该户已迁入2021年新设社区，乡镇（街道）代码待统计部门更新后报送"),
        )
    moved = _first(session, users["gsj_admin"], TAX, FeedbackStatus.OPEN, "compare")
    for item_id in moved[:2]:
        feedback.dispute(
            session,
            by=users["gsj_admin"],
            item_id=item_id,
            data=FeedbackDispute(reason="纳税人已在税务机关办理生产经营地址变更，以税务登记为准"),
        )
    if moved:
        feedback.review(
            session,
            by=hub,
            item_id=moved[0],
            decision=feedback.Decision.DISMISS,
            data=FeedbackReview(note="经核实，企业已迁址，采纳异议"),
        )
    for item_id in _first(session, hub, FIRMS, FeedbackStatus.CORRECTED):
        feedback.review(
            session,
            by=hub,
            item_id=item_id,
            decision=feedback.Decision.VERIFY,
            data=FeedbackReview(note="整改数据已核验"),
        )
