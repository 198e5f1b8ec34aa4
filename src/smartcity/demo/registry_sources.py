"""The same residents as several departments record them: typos, homophones, old addresses, mistyped IDs.

`person_sources` takes the population register's residents (`records.people`) and writes what four other
systems hold about a part of them, each in its own catalogue entry's fields, with the mistakes such systems
really carry: a mistyped digit in the resident ID (so the check character fails), a given name written with a
homophone (王玮 for 王伟) or a wrong character, a birth date with one digit off, a new phone number, an address
written another way (no province, Chinese numerals, a building number) or an old one. Migrants who are not in
the register appear too, so not every record has a match. Each source carries the fields its real form has: the
disease report card (传染病报告卡) the patient's birth date, phone and current address, and one card in seven no ID
number at all; the unemployment registration (失业登记) birth date, residence address and phone. `truth` keeps
the resident behind every row, so the registry's linking can be scored against it (see `tests/registry` and
`bench/linkage.py`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import polars as pl
from faker.providers.person.zh_CN import Provider as PersonNames
from pypinyin import Style, lazy_pinyin

from smartcity.demo import records

REGISTER = "330281-GAJ-00001"  # 人口基础信息 (市公安局), the trusted source
MIGRANTS = "330281-GAJ-00002"  # 流动人口登记信息 (市公安局)
UNEMPLOYED = "330281-RSJ-00007"  # 失业登记信息 (市人力社保局)
DISEASE = "330281-JKZX-00001"  # 传染病报告卡信息 (市疾控中心)
ELDERLY = "330281-DYZ-00001"  # 大隐镇独居和空巢老人关爱信息 (大隐镇)
DAYIN = "330281112"  # 大隐镇
CHINESE_DIGITS = "零一二三四五六七八九"


@dataclass
class Sources:
    """Rows per entry (values as text, in the entry's field names) and the resident behind each row."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    truth: dict[str, np.ndarray] = field(default_factory=dict)  # entry -> person number per row (-1: nobody known)


@lru_cache(maxsize=1)
def homophones() -> dict[str, list[str]]:
    """Characters of Chinese given names -> other name characters that sound the same (tones ignored)."""
    chars = sorted({ch for name in PersonNames.first_names for ch in name})
    by_sound: dict[str, list[str]] = defaultdict(list)
    for ch in chars:
        by_sound[lazy_pinyin(ch, style=Style.NORMAL)[0]].append(ch)
    return {ch: [o for o in by_sound[lazy_pinyin(ch, style=Style.NORMAL)[0]] if o != ch] for ch in chars}


class Noise:
    """Mistakes made while typing a record into a department's system, at rates seen in such systems."""

    def __init__(self, rng: np.random.Generator, rate: float = 1.0) -> None:
        self.rng = rng
        self.rate = rate

    def hit(self, share: float, n: int) -> np.ndarray:
        return self.rng.random(n) < share * self.rate

    def resident_ids(self, ids: list[str]) -> list[str]:
        """6% one digit mistyped, 2% two neighbouring digits swapped."""
        out = list(ids)
        typo, swap = self.hit(0.06, len(ids)), self.hit(0.02, len(ids))
        for i, value in enumerate(out):
            if typo[i]:
                at = int(self.rng.integers(0, 17))
                digit = str((int(value[at]) + int(self.rng.integers(1, 10))) % 10)
                out[i] = value[:at] + digit + value[at + 1 :]
            elif swap[i]:
                at = int(self.rng.integers(6, 16))
                if value[at] != value[at + 1]:
                    out[i] = value[:at] + value[at + 1] + value[at] + value[at + 2 :]
        return out

    def names(self, names: list[str]) -> list[str]:
        """4% a given-name character replaced by a homophone, 1.5% by another character."""
        table = homophones()
        given = list({ch for name in PersonNames.first_names for ch in name})
        out = list(names)
        sound, other = self.hit(0.04, len(names)), self.hit(0.015, len(names))
        for i, name in enumerate(out):
            if len(name) < 2 or not (sound[i] or other[i]):
                continue
            at = int(self.rng.integers(1, len(name)))
            choices = table.get(name[at], []) if sound[i] else given
            if choices:
                out[i] = name[:at] + str(self.rng.choice(choices)) + name[at + 1 :]
        return out

    def dates(self, dates: list[str]) -> list[str]:
        """1.5% one digit of the day or month off."""
        out = list(dates)
        for i in np.flatnonzero(self.hit(0.015, len(dates))):
            day = dt.date.fromisoformat(out[i])
            shifted = day + dt.timedelta(days=int(self.rng.choice([-10, -1, 1, 10])))
            out[i] = shifted.isoformat()
        return out

    def phones(self, phones: list[str]) -> list[str | None]:
        """15% not given, 8% a new number since."""
        fresh = records.phones(self.rng, len(phones)).to_list()
        missing, changed = self.hit(0.15, len(phones)), self.hit(0.08, len(phones))
        return [None if missing[i] else fresh[i] if changed[i] else p for i, p in enumerate(phones)]

    def addresses(self, addresses: list[str], moved: list[str]) -> list[str | None]:
        """Written another way: 40% without province and city, 10% with Chinese numerals; 10% an older address."""
        out: list[str | None] = []
        short, numerals = self.hit(0.4, len(addresses)), self.hit(0.1, len(addresses))
        old, missing = self.hit(0.1, len(addresses)), self.hit(0.05, len(addresses))
        for i, text in enumerate(addresses):
            if missing[i]:
                out.append(None)
                continue
            value = moved[i] if old[i] else text
            if short[i]:
                value = value.replace("浙江省宁波市", "")
            if numerals[i]:
                value = _chinese_number(value)
            out.append(value)
        return out


def _chinese_number(address: str) -> str:
    """The door number in Chinese numerals (12号 -> 十二号), as people write it on paper forms."""

    def spell(match: re.Match[str]) -> str:
        n = int(match.group(1))
        tens, ones = divmod(n, 10)
        if n >= 100 or n == 0:
            return "".join(CHINESE_DIGITS[int(d)] for d in str(n)) + "号"
        text = ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" if tens else ""
        return text + (CHINESE_DIGITS[ones] if ones else "") + "号"

    return re.sub(r"(\d+)号", spell, address, count=1)


def migrants(n: int, *, seed: int) -> pl.DataFrame:
    """People registered elsewhere who live in Yuyao (not in its population register)."""
    people = records.people(n, seed=seed)
    return people.filter(~pl.col("resident_id").str.starts_with(records.YUYAO))


def person_sources(
    people: pl.DataFrame, *, sizes: dict[str, int], seed: int = 11643, noise: float = 1.0, registered: bool = True
) -> Sources:
    """What the departments other than the register hold about `people`; with `registered`, the register itself
    is included (clean: the police register is the reference)."""
    rng = np.random.default_rng(seed)
    typo = Noise(rng, noise)
    out = Sources()
    count = people.height
    phones = records.phones(rng, count)
    town_names = records.TOWN_NAMES[rng.integers(0, len(records.TOWN_NAMES), size=count)]
    moved = records.addresses(rng, count, town_names)
    people = people.with_columns(phones.alias("phone"), moved.alias("old_address"))
    if registered:
        out.frames[REGISTER] = people.drop("phone", "old_address")
        out.truth[REGISTER] = np.arange(count)

    def pick(size: int, frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
        chosen = np.sort(rng.choice(frame.height, size=min(size, frame.height), replace=False))
        return frame[chosen], chosen

    def persons(frame: pl.DataFrame) -> dict[str, list[str | None]]:
        return {
            "resident_id": list(typo.resident_ids(frame["resident_id"].to_list())),
            "full_name": list(typo.names(frame["full_name"].to_list())),
            "birth_date": list(typo.dates(frame["birth_date"].to_list())),
        }

    if sizes.get(MIGRANTS):
        # Two in three migrants' records are of people not in the register; the rest moved within the city.
        newcomers = migrants(sizes[MIGRANTS] * 2, seed=seed + 1)
        stay = newcomers.head(sizes[MIGRANTS] * 2 // 3).with_columns(
            records.phones(rng, min(newcomers.height, sizes[MIGRANTS] * 2 // 3)).alias("phone"),
            pl.col("registered_address").alias("old_address"),
        )
        local, index = pick(sizes[MIGRANTS] - stay.height, people)
        frame = pl.concat([local.select(stay.columns), stay])
        truth = np.concatenate([index, np.full(stay.height, -1)])
        base = persons(frame)
        out.frames[MIGRANTS] = pl.DataFrame(
            {
                **base,
                "gender_code": frame["gender_code"],
                "residence_address": typo.addresses(
                    frame["registered_address"].to_list(), frame["old_address"].to_list()
                ),
                "town_code": frame["town_code"],
                "phone": typo.phones(frame["phone"].to_list()),
                "registration_date": records.dates(rng, frame.height, "2016-01-01", 3000),
                "origin_division_code": frame["resident_id"].str.slice(0, 6),
            }
        )
        out.truth[MIGRANTS] = truth
    if sizes.get(UNEMPLOYED):
        frame, index = pick(sizes[UNEMPLOYED], people)
        base = persons(frame)
        out.frames[UNEMPLOYED] = pl.DataFrame(
            {
                **base,
                "gender_code": frame["gender_code"],
                "residence_address": typo.addresses(
                    frame["registered_address"].to_list(), frame["old_address"].to_list()
                ),
                "registration_date": records.dates(rng, frame.height, "2016-01-01", 3000),
                "town_code": frame["town_code"],
                "phone": typo.phones(frame["phone"].to_list()),
            }
        )
        out.truth[UNEMPLOYED] = index
    if sizes.get(DISEASE):
        frame, index = pick(sizes[DISEASE], people)
        base = persons(frame)
        # One card in seven has no ID number: young children, elderly patients, nobody had the card at hand.
        blank = typo.hit(1 / 7, frame.height)
        base["resident_id"] = [None if blank[i] else v for i, v in enumerate(base["resident_id"])]
        diseases = np.array(["流行性感冒", "手足口病", "肺结核", "其他感染性腹泻病", "水痘", "病毒性肝炎"])
        out.frames[DISEASE] = pl.DataFrame(
            {
                "report_card_no": pl.Series(np.arange(frame.height) + 3302810000001).cast(pl.String),
                **base,
                "gender_code": frame["gender_code"],
                "current_address": typo.addresses(
                    frame["registered_address"].to_list(), frame["old_address"].to_list()
                ),
                "phone": typo.phones(frame["phone"].to_list()),
                "diagnosis": pl.Series(rng.choice(diseases, size=frame.height)),
                "diagnosis_date": records.dates(rng, frame.height, "2016-01-01", 3000),
                "reporting_org": pl.Series(
                    rng.choice(np.array(["余姚市人民医院", "余姚市中医医院", "余姚市第三人民医院"]), size=frame.height)
                ),
            }
        )
        out.truth[DISEASE] = index
    if sizes.get(ELDERLY):
        old = people.with_row_index("person").filter(
            (pl.col("birth_date") < "1956-01-01") & (pl.col("town_code") == DAYIN)
        )
        frame, _chosen = pick(sizes[ELDERLY], old)
        base = persons(frame)
        base.pop("birth_date")
        out.frames[ELDERLY] = pl.DataFrame(
            {
                **base,
                "gender_code": frame["gender_code"],
                "home_address": typo.addresses(frame["registered_address"].to_list(), frame["old_address"].to_list()),
                "emergency_phone": typo.phones(frame["phone"].to_list()),
                "last_visit_date": records.dates(rng, frame.height, "2019-06-01", 500),
            }
        )
        out.truth[ELDERLY] = frame["person"].to_numpy()
    return out
