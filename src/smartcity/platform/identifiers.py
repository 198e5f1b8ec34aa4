"""Chinese identifiers: GB 11643 resident ID, GB 32100 unified social credit code, phone numbers.

Each check exists twice: a scalar function built on python-stdnum (the reference, used for single values and in
the tests) and a Polars expression that checks a whole column at once (used for batches, where a Python call per
value would cost seconds per million rows). The test suite checks that both agree on random input.

python-stdnum's `cn.uscc.validate()` requires the first eight characters to be digits, but GB 32100-2015 lets the
first character (登记管理部门代码) be a letter: A for the Central Military Commission's offices, N for agricultural
bodies such as village collective economic organisations (村集体经济组织), Y for other registration authorities.
`uscc_problem` therefore checks the format itself and uses stdnum only for the check character.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path

import polars as pl
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

# --- resident ID (公民身份号码, GB 11643-1999) ---------------------------------------------------------------

RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK = "10X98765432"
RIC_FORMAT = r"^\d{17}[\dX]$"


@lru_cache(maxsize=1)
def division_codes() -> frozenset[str]:
    """Every six-digit GB/T 2260 code python-stdnum knows, past and present (old IDs keep old codes)."""
    return frozenset(division_names())


@lru_cache(maxsize=1)
def division_names() -> dict[str, str]:
    """GB/T 2260 code → name, read from python-stdnum's division database (`stdnum/cn/loc.dat`)."""
    import stdnum

    names: dict[str, str] = {}
    province = ""
    pattern = re.compile(r'^(\s*)(\d+)\s+(\w+)="([^"]*)"')
    with (Path(stdnum.__file__).parent / "cn" / "loc.dat").open(encoding="utf-8") as handle:
        for line in handle:
            match = pattern.match(line)
            if not match:
                continue
            indent, digits, _kind, value = match.groups()
            name = re.sub(r"\[[^\]]*\]", "", value).split(",")[-1]
            if not indent:
                province = digits
                names[f"{digits}0000"] = name
            else:
                names[f"{province}{digits}"] = name
    return names


def resident_id_problem(value: str, *, today: dt.date | None = None, check_region: bool = True) -> str | None:
    """None when `value` is a valid resident ID; else which part is wrong: format, checksum, birth_date, region."""
    number = ric.compact(value)
    if len(number) != 18 or not re.fullmatch(RIC_FORMAT, number):
        return "format"
    if number[-1] != ric.calc_check_digit(number):
        return "checksum"
    try:
        born = ric.get_birth_date(number)
    except InvalidComponent:
        return "birth_date"
    if born > (today or dt.date.today()) or born.year < 1880:
        return "birth_date"
    if check_region and number[:6] not in division_codes():
        return "region"
    return None


def resident_id_sex(value: str) -> str | None:
    """GB/T 2261.1 sex code embedded in a resident ID: '1' (odd 17th digit, male) or '2' (even, female)."""
    number = ric.compact(value)
    if len(number) < 17 or not number[16].isdigit():
        return None
    return "1" if int(number[16]) % 2 else "2"


def ric_number(column: pl.Expr) -> pl.Expr:
    """The first 17 digits of well-formed resident IDs as one integer (null for anything else).

    Parsing once and taking digits apart with integer arithmetic is an order of magnitude faster than slicing
    the text 17 times; `prepare` computes it once per column, and the checks read it.
    """
    return pl.when(column.str.contains(RIC_FORMAT)).then(column.str.slice(0, 17).str.to_integer(strict=False))


def ric_checksum_ok(column: pl.Expr, number: pl.Expr | None = None) -> pl.Expr:
    """True where the 18th character is the GB 11643 check character: (12 - Σ dᵢwᵢ mod 11) mod 11, X for 10."""
    number = ric_number(column) if number is None else number
    total = pl.lit(0, dtype=pl.Int64)
    for index, weight in enumerate(RIC_WEIGHTS):
        total = total + (number // 10 ** (16 - index)) % 10 * weight
    last = column.str.slice(17, 1)
    value = pl.when(last == "X").then(pl.lit(10, dtype=pl.Int64)).otherwise(last.str.to_integer(strict=False))
    return value == (12 - total % 11) % 11


def ric_birth_date(column: pl.Expr) -> pl.Expr:
    """The embedded birth date as a Date (null where it is not a date)."""
    return column.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)


def ric_sex(column: pl.Expr, number: pl.Expr | None = None) -> pl.Expr:
    """The embedded sex as a GB/T 2261.1 code: '1' (odd 17th digit, male) or '2' (even, female)."""
    odd = ((ric_number(column) if number is None else number) % 2) == 1
    return pl.when(odd).then(pl.lit("1")).otherwise(pl.lit("2"))


def ric_problem_expr(
    column: pl.Expr, *, today: dt.date, check_region: bool = True, number: pl.Expr | None = None
) -> pl.Expr:
    """Per value: null when valid, else 'format' / 'checksum' / 'birth_date' / 'region' (same as the scalar check).

    Standalone, the column is upper-cased first; the batch pipeline passes `number` (`ric_number`, computed once)
    over a column it has already compacted and upper-cased.
    """
    if number is None:
        column = column.str.to_uppercase()
        number = ric_number(column)
    born = ric_birth_date(column)
    expr = (
        pl.when(number.is_null())
        .then(pl.lit("format"))
        .when(~ric_checksum_ok(column, number))
        .then(pl.lit("checksum"))
        .when(born.is_null() | (born > pl.lit(today)) | (born.dt.year() < 1880))
        .then(pl.lit("birth_date"))
    )
    if check_region:
        expr = expr.when(~column.str.slice(0, 6).is_in(list(division_codes()))).then(pl.lit("region"))
    return expr.otherwise(pl.lit(None, dtype=pl.String))


# --- unified social credit code (统一社会信用代码, GB 32100-2015) ------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_C = "[0-9A-HJ-NP-RTUW-Y]"
# 1: registration authority (1-9, A, N, Y); 2: entity category; 3-8: division code; 9-17: organisation code; 18: check.
USCC_FORMAT = rf"^[1-9ANY]{_C}\d{{6}}{_C}{{10}}$"


def uscc_problem(value: str) -> str | None:
    """None when `value` is a valid USCC (letters allowed first, as GB 32100 says); else 'format' or 'checksum'."""
    number = uscc.compact(value)
    if not re.fullmatch(USCC_FORMAT, number):
        return "format"
    if number[-1] != uscc.calc_check_digit(number[:17]):
        return "checksum"
    return None


def stdnum_uscc_problem(value: str) -> str | None:
    """What python-stdnum's own `uscc.validate` says (it wrongly rejects letter-first codes such as N2…)."""
    try:
        uscc.validate(value)
    except (InvalidLength, InvalidFormat):
        return "format"
    except InvalidChecksum:
        return "checksum"
    return None


USCC_CHUNKS = ((0, 6), (6, 6), (12, 6))


def uscc_chunks(column: pl.Expr) -> list[pl.Expr]:
    """The 18 characters as three base-36 integers of six characters each (parsed once per column)."""
    return [column.str.slice(start, length).str.to_integer(base=36, strict=False) for start, length in USCC_CHUNKS]


# Base-36 digit → position in the USCC alphabet, which leaves out I, O, S, V and Z (those never pass the format
# check, so their entries do not matter). A lookup by index is several times faster than arithmetic on each digit.
_ALPHABET_INDEX = pl.Series([USCC_ALPHABET.find(ch) for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"], dtype=pl.Int64)


def _alphabet_index(base36: pl.Expr) -> pl.Expr:
    return pl.lit(_ALPHABET_INDEX).gather(base36)


def uscc_problem_expr(column: pl.Expr, chunks: list[pl.Expr] | None = None) -> pl.Expr:
    """Per value: null when valid, else 'format' or 'checksum' (same as `uscc_problem`).

    Standalone, the column is upper-cased first; the batch pipeline passes `chunks` (`uscc_chunks`, computed once)
    over a column it has already compacted and upper-cased.
    """
    if chunks is None:
        column = column.str.to_uppercase()
        chunks = uscc_chunks(column)
    positions = []
    for chunk, (_, length) in zip(chunks, USCC_CHUNKS, strict=True):
        for k in range(length):
            positions.append(_alphabet_index((chunk // 36 ** (length - 1 - k)) % 36))
    total = pl.lit(0, dtype=pl.Int64)
    for position, weight in zip(positions, USCC_WEIGHTS, strict=False):
        total = total + position * weight
    return (
        pl.when(~column.str.contains(USCC_FORMAT))
        .then(pl.lit("format"))
        .when(positions[17] != (31 - total % 31) % 31)
        .then(pl.lit("checksum"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


# --- phone numbers -------------------------------------------------------------------------------------------

MOBILE = r"(?:\+?86[- ]?)?1[3-9]\d{9}"
LANDLINE = r"0\d{2,3}-?[1-9]\d{6,7}(?:-\d{1,6})?"


def phone_pattern(*, allow_landline: bool = True) -> str:
    """The anchored pattern of an 11-digit mobile number, and optionally a landline with area code."""
    return f"^(?:{MOBILE}|{LANDLINE})$" if allow_landline else f"^{MOBILE}$"
