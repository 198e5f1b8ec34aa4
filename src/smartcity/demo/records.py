"""Generated department records for the Yuyao demo, the benchmarks and the tests: fast, seeded, valid by default.

Identifiers are built with their check characters (GB 11643 resident IDs, GB 32100 credit codes), names follow
the frequency of Chinese surnames (Faker's zh_CN tables), places are Yuyao's real towns and roads. Everything is
vectorised with NumPy so a million rows take seconds. Errors are injected on purpose by the demo (see
`ingest_demo.py`), which keeps the ground truth of what it broke.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl
from faker.providers.person.zh_CN import Provider as PersonNames

from smartcity.demo.departments import TOWNS
from smartcity.platform import identifiers

RIC_WEIGHTS = np.array(identifiers.RIC_WEIGHTS)
RIC_CHECK = np.array(list(identifiers.RIC_CHECK))
USCC_ALPHABET = np.array(list(identifiers.USCC_ALPHABET))
USCC_WEIGHTS = np.array(identifiers.USCC_WEIGHTS)
YUYAO = "330281"
# Where residents of Yuyao were born: mostly Yuyao, then Ningbo's other districts, then migrant home provinces.
BIRTHPLACES = (
    (YUYAO, 0.70),
    ("330282", 0.04),  # 慈溪市
    ("330203", 0.03),  # 宁波市海曙区
    ("330602", 0.03),  # 绍兴市越城区
    ("330624", 0.02),  # 新昌县
    ("341221", 0.04),  # 临泉县
    ("522125", 0.03),  # 道真仡佬族苗族自治县
    ("512925", 0.03),  # 四川简阳市 (old code, still on IDs)
    ("362330", 0.03),  # 鄱阳县 (old code)
    ("410526", 0.03),  # 滑县
    ("433122", 0.02),  # 泸溪县
)
ROADS = [
    "新建北路",
    "阳明西路",
    "谭家岭东路",
    "谭家岭西路",
    "南雷南路",
    "舜水北路",
    "舜水南路",
    "丰山路",
    "梁辉路",
    "城东路",
    "兰江路",
    "北环东路",
    "北环西路",
    "四明西路",
    "候青江路",
    "长安路",
    "世南西路",
    "子陵路",
    "凤山路",
    "胜山路",
    "姚北大道",
    "远东路",
    "江南新城路",
    "冶山路",
    "阳光路",
    "中山北路",
    "东旱门路",
    "西郊路",
    "玉立路",
    "开元路",
]
VILLAGES = [
    "塘头",
    "浦口",
    "新街",
    "河角",
    "湖堤",
    "横塘",
    "东岙",
    "西岙",
    "南庙",
    "北山",
    "姚江",
    "双河",
    "三塘",
    "五星",
    "朝阳",
    "团结",
    "联合",
    "前进",
    "新联",
    "红旗",
    "海南",
    "海北",
    "兴业",
    "四联",
    "汇头",
    "万圣",
    "云楼",
    "梁周",
    "天华",
    "鹿鸣",
]
INDUSTRIES = (
    ("电器", "C3851"),
    ("塑料制品", "C2929"),
    ("模具", "C3525"),
    ("机械", "C3499"),
    ("五金", "C3389"),
    ("光电科技", "C3976"),
    ("汽车部件", "C3670"),
    ("纺织", "C1751"),
    ("照明电器", "C3872"),
    ("贸易", "F5179"),
)
# Characters that Chinese trade names are made of (two of them make a brand: 恒丰, 宏达, 舜宇 …).
BRAND_CHARACTERS = (
    "舜宇阳明姚江四龙山丰凤鸣兰亭东方华泰金辉恒鼎盛瑞新宏达永天元珠海"
    "鹰银河利信诚中意北斗星光嘉德康润泽汇通安鑫晨卓越美佳杰亿联盈博腾飞"
)
PLACES = ("余姚市", "余姚市", "余姚市", "宁波", "浙江")
SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "厂")


# Yuyao's 21 township-level units: 9-digit division codes and names, in the same order.
TOWN_CODES = np.array([t.division_code or "" for t in TOWNS])
TOWN_NAMES = np.array([t.short_name for t in TOWNS])


def _weights(items: Sequence[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([v for v, _ in items])
    weights = np.array([w for _, w in items], dtype=float)
    return values, weights / weights.sum()


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """The decimal digits of non-negative integers, most significant first, as an (n, width) array."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


def _padded(values: np.ndarray, width: int) -> pl.Series:
    return pl.Series(values.astype(np.int64)).cast(pl.String).str.zfill(width)


def ric_check(region: np.ndarray, birth: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for region codes, birth dates (YYYYMMDD) and 3-digit sequences, all integers."""
    digits = np.concatenate([_digits(region, 6), _digits(birth, 8), _digits(sequence, 3)], axis=1)
    return RIC_CHECK[(digits @ RIC_WEIGHTS) % 11]


def resident_ids(
    rng: np.random.Generator, n: int, *, start: dt.date, days: int, regions: np.ndarray
) -> tuple[pl.Series, pl.Series, np.ndarray]:
    """`n` distinct resident IDs with their birth dates (ISO text) and sex codes (1 male, 2 female)."""
    # Distinct (birth day, sequence) pairs drawn at random: births spread over the whole span, both sexes.
    drawn = rng.choice(days * 1000, size=n, replace=False)
    offsets = drawn // 1000
    sequence = drawn % 1000
    births = pl.Series((np.datetime64(start) + offsets.astype("timedelta64[D]")).astype("datetime64[D]"))
    parts = births.to_frame("b").select(
        pl.col("b").dt.year().cast(pl.Int64) * 10000
        + pl.col("b").dt.month().cast(pl.Int64) * 100
        + pl.col("b").dt.day().cast(pl.Int64)
    )
    birth_int = parts.to_series().to_numpy()
    region_int = regions.astype(np.int64)
    check = ric_check(region_int, birth_int, sequence)
    ids = pl.DataFrame(
        {"r": _padded(region_int, 6), "b": _padded(birth_int, 8), "s": _padded(sequence, 3), "c": check}
    ).select(pl.concat_str("r", "b", "s", "c"))
    sex = np.where(sequence % 2 == 1, "1", "2")
    return ids.to_series(), births.dt.strftime("%Y-%m-%d"), sex


def credit_codes(rng: np.random.Generator, n: int, *, prefix: str = "91", region: str = YUYAO) -> pl.Series:
    """`n` unified social credit codes registered in `region` (prefix 91 = enterprise, N2 = village collective)."""
    alphabet_index = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
    body = np.empty((n, 17), dtype=np.int64)
    body[:, :8] = [alphabet_index[ch] for ch in prefix + region]
    body[:, 8:] = rng.integers(0, 31, size=(n, 9))
    check = (31 - (body @ USCC_WEIGHTS) % 31) % 31
    chars = USCC_ALPHABET[np.concatenate([body, check[:, None]], axis=1)]
    return pl.Series(np.ascontiguousarray(chars.astype("U1")).view("U18").ravel())


def person_names(rng: np.random.Generator, n: int) -> pl.Series:
    """Chinese names: surnames by frequency, a given name of one or two characters."""
    surnames, weights = _weights(list(PersonNames.last_names.items()))
    given = np.array(PersonNames.first_names)
    single = np.array([g for g in PersonNames.first_names if len(g) == 1])
    first = pl.Series(rng.choice(surnames, size=n, p=weights))
    middle = pl.Series(rng.choice(given, size=n))
    extra = pl.Series(np.where(rng.random(n) < 0.3, rng.choice(single, size=n), ""))
    return pl.DataFrame({"a": first, "b": middle, "c": extra}).select(pl.concat_str("a", "b", "c")).to_series()


def phones(rng: np.random.Generator, n: int) -> pl.Series:
    """Mobile numbers with China's mobile prefixes."""
    prefixes = np.array([130, 131, 133, 135, 136, 137, 138, 139, 150, 151, 158, 159, 180, 186, 187, 189, 199])
    return pl.Series(rng.choice(prefixes, size=n) * 10**8 + rng.integers(0, 10**8, size=n)).cast(pl.String)


def addresses(rng: np.random.Generator, n: int, town_names: np.ndarray) -> pl.Series:
    """Street addresses in Yuyao: road, number, sometimes building and room."""
    frame = pl.DataFrame(
        {
            "town": town_names,
            "road": rng.choice(np.array(ROADS), size=n),
            "no": rng.integers(1, 400, size=n),
            "building": rng.integers(1, 30, size=n),
            "room": rng.integers(101, 2605, size=n),
            "flat": rng.random(n) < 0.6,
        }
    )
    return frame.select(
        pl.concat_str(
            pl.lit("浙江省宁波市余姚市"),
            "town",
            "road",
            pl.col("no").cast(pl.String),
            pl.lit("号"),
            pl.when("flat")
            .then(
                pl.concat_str(
                    pl.col("building").cast(pl.String), pl.lit("幢"), pl.col("room").cast(pl.String), pl.lit("室")
                )
            )
            .otherwise(pl.lit("")),
        )
    ).to_series()


def _choice(rng: np.random.Generator, values: Sequence[str], n: int, p: Sequence[float] | None = None) -> pl.Series:
    return pl.Series(rng.choice(np.array(values), size=n, p=p))


def dates(rng: np.random.Generator, n: int, start: str, days: int) -> pl.Series:
    """`n` dates (YYYY-MM-DD) drawn evenly from the `days` days after `start`."""
    offsets = rng.integers(0, days, size=n).astype("timedelta64[D]")
    return pl.Series((np.datetime64(start) + offsets).astype("datetime64[D]")).dt.strftime("%Y-%m-%d")


def _places(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    index = rng.integers(0, len(TOWN_CODES), size=n)
    return TOWN_CODES[index], TOWN_NAMES[index]


def people(n: int, *, seed: int = 330281) -> pl.DataFrame:
    """Registered residents (人口基础信息, entry 330281-GAJ-00001) with every field of that entry's schema."""
    rng = np.random.default_rng(seed)
    places, weights = _weights(BIRTHPLACES)
    regions = rng.choice(places, size=n, p=weights)
    ids, births, sex = resident_ids(rng, n, start=dt.date(1930, 1, 1), days=32000, regions=regions)
    town_codes, town_names = _places(rng, n)
    frame = pl.DataFrame(
        {
            "resident_id": ids,
            "full_name": person_names(rng, n),
            "gender_code": sex,
            "ethnicity_code": pl.Series(
                np.where(rng.random(n) < 0.985, "01", rng.choice(np.array(["02", "03", "05", "09", "18"]), size=n))
            ),
            "birth_date": births,
            "birthplace_code": regions,
            "household_no": pl.Series(rng.integers(100_000_000, 999_999_999, size=n)).cast(pl.String),
            "household_type": pl.Series(np.where(rng.random(n) < 0.93, "1", "2")),
            "relation_to_head": _choice(rng, ["02", "10", "20", "30", "51", "52", "40"], n),
            "registered_address": addresses(rng, n, town_names),
            "town_code": town_codes,
            "village": _padded(rng.integers(1, 31, size=n), 3),
            "education_code": _choice(rng, ["10", "20", "30", "60", "70", "80", "90"], n),
            "marital_status": _choice(rng, ["10", "20", "30", "40"], n, [0.3, 0.6, 0.05, 0.05]),
            "settle_date": dates(rng, n, "1985-01-01", 13000),
            "person_status": pl.Series(["1"] * n),
        }
    )
    frame = frame.with_columns(pl.concat_str("town_code", "village").alias("village_code")).drop("village")
    return frame.select(
        "resident_id", "full_name", "gender_code", "ethnicity_code", "birth_date", "birthplace_code", "household_no",
        "household_type", "relation_to_head", "registered_address", "town_code", "village_code", "education_code",
        "marital_status", "settle_date", "person_status",
    )  # fmt: skip


def companies(n: int, *, seed: int = 91330281, villages: int = 0) -> pl.DataFrame:
    """Legal entities registered in Yuyao (法人单位基础信息, entry 330281-SCJ-00001); the last `villages` rows are
    village collective economic organisations, whose credit codes begin with N2 (GB 32100)."""
    rng = np.random.default_rng(seed)
    firms = n - villages
    codes = pl.concat([credit_codes(rng, firms, prefix="91"), credit_codes(rng, villages, prefix="N2")])
    industry = rng.integers(0, len(INDUSTRIES), size=n)
    town_codes, town_names = _places(rng, n)
    village_rows = np.arange(n) - firms
    village_town = np.where(village_rows >= 0, (village_rows // len(VILLAGES)) % len(TOWN_CODES), 0)
    town_codes = np.where(village_rows >= 0, TOWN_CODES[village_town], town_codes)
    town_names = np.where(village_rows >= 0, TOWN_NAMES[village_town], town_names)
    is_village = pl.Series(np.arange(n) >= firms)
    frame = pl.DataFrame(
        {
            "credit_code": codes,
            "place": _choice(rng, PLACES, n),
            "brand": _choice(rng, list(BRAND_CHARACTERS), n) + _choice(rng, list(BRAND_CHARACTERS), n),
            "suffix": _choice(rng, SUFFIXES, n),
            "kind": pl.Series(np.array([INDUSTRIES[i][0] for i in industry])),
            "village_name": pl.Series(np.array(VILLAGES)[np.maximum(village_rows, 0) % len(VILLAGES)]),
            # Each town has each village once; past 21 × 30 collectives a number tells them apart.
            "village_no": pl.Series(np.where(village_rows < 630, "", (np.maximum(village_rows, 0) // 630).astype(str))),
            "town_name": town_names,
            "is_village": is_village,
            "serial": pl.Series(np.arange(n)).cast(pl.String),
            "legal_rep": person_names(rng, n),
            "registered_capital": pl.Series(np.round(rng.lognormal(5, 1.2, size=n), 2)).cast(pl.String),
            "industry_code": pl.Series(np.array([INDUSTRIES[i][1] for i in industry])),
            "domicile": addresses(rng, n, town_names),
            "town_code": town_codes,
            "established_date": dates(rng, n, "1992-01-01", 11000),
            "registration_status": pl.Series(
                np.where(rng.random(n) < 0.94, "1", rng.choice(np.array(["2", "3"]), size=n))
            ),
            "corporate": pl.Series(rng.random(n) < 0.8),
        }
    )
    firm = pl.concat_str("place", "brand", "kind", "suffix")
    village = pl.concat_str(pl.lit("余姚市"), "town_name", "village_name", pl.lit("村股份经济合作社"), "village_no")
    frame = frame.with_columns(
        pl.when("is_village").then(village).otherwise(firm).alias("org_name"),
        pl.when("is_village")
        .then(pl.lit("农村集体经济组织"))
        .when(pl.col("suffix") == "厂")
        .then(pl.lit("个人独资企业"))
        .when(pl.col("suffix") == "股份有限公司")
        .then(pl.lit("股份有限公司"))
        .when("corporate")
        .then(pl.lit("有限责任公司"))
        .otherwise(pl.lit("股份有限公司"))
        .alias("enterprise_type"),
        pl.lit("余姚市市场监督管理局").alias("registration_authority"),
    )
    # A register holds no two names alike: a repeated name is drawn again (with a third trade-name character).
    for attempt in range(20):
        repeated = ~pl.col("org_name").is_first_distinct()
        if not frame.select(repeated.any()).item():
            break
        fresh = pl.concat_str(
            "place",
            "brand",
            pl.lit(BRAND_CHARACTERS).str.slice(
                pl.col("serial").cast(pl.Int64) % len(BRAND_CHARACTERS) + attempt % 3, 1
            ),
            "kind",
            "suffix",
        )
        frame = frame.with_columns(
            pl.when(repeated & ~pl.col("is_village")).then(fresh).otherwise(pl.col("org_name")).alias("org_name"),
            pl.Series("brand", _choice(rng, list(BRAND_CHARACTERS), n) + _choice(rng, list(BRAND_CHARACTERS), n)),
        )
    return frame.select(
        "credit_code", "org_name", "enterprise_type", "legal_rep", "registered_capital", "industry_code", "domicile",
        "town_code", "established_date", "registration_status", "registration_authority",
    )  # fmt: skip
