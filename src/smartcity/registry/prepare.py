"""From the values departments gave to the columns the linkage model compares: cleaned, normalised, in pinyin.

Chinese names are compared as characters and as toneless pinyin, so a name written with a homophone (王玮 for
王伟) or in a different character set still agrees at a strong level. Resident IDs and credit codes are compared
as raw text even when their check character is wrong, because a record with one mistyped digit is still much
more likely to be the same person than anyone else.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import polars as pl
from pypinyin import Style, lazy_pinyin

from smartcity.platform import identifiers
from smartcity.registry.address.parse import YUYAO_TOWN_CODES, parse_address
from smartcity.registry.vocab import ATTRIBUTES, Kind

# Legal form and place words that do not tell two companies apart (余姚市恒丰电器有限公司 = 恒丰电器).
ENTITY_NOISE = re.compile(
    r"^(浙江省|浙江|宁波市|宁波|余姚市|余姚)+|(股份有限公司|有限责任公司|有限公司|分公司|公司|厂|店|经营部|合作社)$"
)


@lru_cache(maxsize=1_000_000)
def pinyin(text: str) -> str:
    """Toneless pinyin of Chinese text, syllables joined ("王伟" -> "wangwei"); other characters kept."""
    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors="default"))


def valid_resident_id(number: pl.Expr) -> pl.Expr:
    """The resident ID where its format, birth date and check character are right (GB 11643); else null."""
    valid = identifiers.ric_problem_expr(number, today=dt.date.today(), check_region=False).is_null()
    return pl.when(valid).then(number)


def valid_credit_code(code: pl.Expr) -> pl.Expr:
    """The unified social credit code where its format and check character are right (GB 32100); else null."""
    return pl.when(identifiers.uscc_problem_expr(code).is_null()).then(code)


def _text(column: str) -> pl.Expr:
    """A value with full-width characters made half-width (NFKC) and spaces removed; empty -> null."""
    cleaned = pl.col(column).cast(pl.String).str.normalize("NFKC").str.replace_all(r"\s+", "")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


def _mapped(expr: pl.Expr, function: object) -> pl.Expr:
    return expr.map_elements(function, return_dtype=pl.String, skip_nulls=True)  # type: ignore[arg-type]


def _phone(column: str) -> pl.Expr:
    digits = pl.col(column).cast(pl.String).str.replace_all(r"\D", "")
    digits = pl.when(digits.str.len_chars() == 13).then(digits.str.strip_prefix("86")).otherwise(digits)
    return pl.when(digits.str.len_chars() >= 7).then(digits)


ADDRESS_COLUMNS = ("address_key", "address_door", "address_street", "address_town")


def _address_parts(texts: pl.Series) -> pl.DataFrame:
    """What the linkage compares of an address: its whole key (town|village|road|number), the door (road and
    number, wherever the town was left out), the street (town and road) and the town's division code."""
    parts: dict[str, tuple[str | None, ...]] = {}
    for text in texts.drop_nulls().unique().to_list():
        parsed = parse_address(text)
        door = f"{parsed.road}|{parsed.number}" if parsed.road and parsed.number else None
        street = f"{parsed.town}|{parsed.road}" if parsed.town and parsed.road else None
        town = YUYAO_TOWN_CODES.get(parsed.town or "")
        parts[text] = (parsed.key() if (parsed.road or parsed.village) else None, door, street, town)
    frame = texts.to_frame("text")
    return frame.select(
        pl.col("text")
        .replace_strict({t: p[i] for t, p in parts.items()}, default=None, return_dtype=pl.String)
        .alias(name)
        for i, name in enumerate(ADDRESS_COLUMNS)
    )


def _with_address(out: pl.DataFrame) -> pl.DataFrame:
    """The address columns beside the others, and the town taken from the address where none was given."""
    out = pl.concat([out, _address_parts(out["address"])], how="horizontal")
    return out.with_columns(pl.coalesce("town_code", "address_town").alias("town_code")).drop("address", "address_town")


def _ensure(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)


def person_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The compared columns of person records (`unique_id` and the person attributes in, linkage columns out)."""
    frame = _ensure(frame, list(ATTRIBUTES[Kind.PERSON]))
    raw = _text("resident_id").str.to_uppercase()
    out = frame.select(
        "unique_id",
        raw.alias("id_number"),
        _text("full_name").str.replace_all(r"[·•．.]", "").alias("full_name"),
        _text("gender_code").alias("gender_code"),
        _text("birth_date").str.slice(0, 10).alias("birth_date"),
        _phone("phone").alias("phone"),
        _text("address").alias("address"),
        _text("town_code").alias("town_code"),
    )
    out = out.with_columns(
        valid_resident_id(pl.col("id_number")).alias("ident"),
        _mapped(pl.col("full_name"), pinyin).alias("name_py"),
        pl.col("full_name").str.slice(0, 1).alias("surname"),
    )
    born = identifiers.ric_birth_date(pl.col("ident")).dt.strftime("%Y-%m-%d")
    out = out.with_columns(
        pl.coalesce("birth_date", born).alias("birth_date"),
        pl.coalesce("gender_code", pl.when(pl.col("ident").is_not_null()).then(identifiers.ric_sex(pl.col("ident")))),
        _mapped(pl.col("surname"), pinyin).alias("surname_py"),
        pl.col("id_number").str.slice(0, 14).alias("id_head"),
        pl.col("id_number").str.slice(-8).alias("id_tail"),
    )
    return _with_address(out)


def entity_name(name: str) -> str:
    """A company name without the place and legal-form words around it."""
    stripped = re.sub(r"[（(][^）)]*[）)]", "", name)
    previous = None
    while previous != stripped:
        previous, stripped = stripped, ENTITY_NOISE.sub("", stripped)
    return stripped or name


def entity_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The compared columns of legal-entity records."""
    frame = _ensure(frame, list(ATTRIBUTES[Kind.ENTITY]))
    out = frame.select(
        "unique_id",
        _text("credit_code").str.to_uppercase().alias("code_number"),
        _text("org_name").alias("org_name"),
        _text("legal_rep").alias("legal_rep"),
        _phone("phone").alias("phone"),
        _text("address").alias("address"),
        _text("town_code").alias("town_code"),
        _text("established_date").str.slice(0, 10).alias("established_date"),
    )
    out = out.with_columns(
        valid_credit_code(pl.col("code_number")).alias("ident"),
        _mapped(pl.col("org_name"), entity_name).alias("name_core"),
        _mapped(pl.col("legal_rep"), pinyin).alias("legal_rep_py"),
        pl.col("code_number").str.slice(8, 9).alias("org_code"),
    )
    out = out.with_columns(pl.col("name_core").str.slice(0, 2).alias("name_head"))
    return _with_address(out)
