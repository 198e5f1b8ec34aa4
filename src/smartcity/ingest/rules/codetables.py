"""Code tables (代码表) for enumeration rules: national standards built in, a city's own tables in the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smartcity.platform.i18n import N_
from smartcity.platform.identifiers import division_names


@dataclass(frozen=True)
class BuiltinTable:
    """A national code table shipped with the platform (no download at run time)."""

    name: str
    title: str  # message id
    standard: str
    codes: Callable[[], dict[str, str]]


def _sex() -> dict[str, str]:
    return {"0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别"}


def _marital() -> dict[str, str]:
    return {
        "10": "未婚",
        "20": "已婚",
        "21": "初婚",
        "22": "再婚",
        "23": "复婚",
        "30": "丧偶",
        "40": "离婚",
        "90": "未说明的婚姻状况",
    }


ETHNIC_GROUPS = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
]


def _ethnicity() -> dict[str, str]:
    codes = {f"{i:02d}": name for i, name in enumerate(ETHNIC_GROUPS, start=1)}
    codes.update({"97": "其他", "98": "外国血统中国籍人士"})
    return codes


RELATIONS = [
    "01本人",
    "02户主",
    "10配偶",
    "11夫",
    "12妻",
    "20子",
    "21独生子",
    "22长子",
    "23次子",
    "24三子",
    "25四子",
    "26五子",
    "27养子或继子",
    "28女婿",
    "29其他儿子",
    "30女",
    "31独生女",
    "32长女",
    "33次女",
    "34三女",
    "35四女",
    "36五女",
    "37养女或继女",
    "38儿媳",
    "39其他女儿",
    "40孙子、孙女或外孙子、外孙女",
    "41孙子",
    "42孙女",
    "43外孙子",
    "44外孙女",
    "45孙媳妇或外孙媳妇",
    "46孙女婿或外孙女婿",
    "47曾孙子或外曾孙子",
    "48曾孙女或外曾孙女",
    "49其他孙子、孙女或外孙子、外孙女",
    "50父母",
    "51父亲",
    "52母亲",
    "53公公",
    "54婆婆",
    "55岳父",
    "56岳母",
    "57继父或养父",
    "58继母或养母",
    "59其他父母关系",
    "60祖父母或外祖父母",
    "61祖父",
    "62祖母",
    "63外祖父",
    "64外祖母",
    "65配偶的祖父母或外祖父母",
    "66曾祖父",
    "67曾祖母",
    "68配偶的曾祖父母或外曾祖父母",
    "69其他祖父母或外祖父母关系",
    "70兄、弟、姐、妹",
    "71兄",
    "72嫂",
    "73弟",
    "74弟媳",
    "75姐姐",
    "76姐夫",
    "77妹妹",
    "78妹夫",
    "79其他兄弟姐妹",
    "80其他",
    "81伯父",
    "82伯母",
    "83叔父",
    "84婶母",
    "85舅父",
    "86舅母",
    "87姨父",
    "88姨母",
    "89姑父",
    "90姑母",
    "91堂兄弟、堂姐妹",
    "92表兄弟、表姐妹",
    "93侄子",
    "94侄女",
    "95外甥",
    "96外甥女",
    "97其他亲属",
    "99非亲属",
]


def _relation() -> dict[str, str]:
    return {item[:2]: item[2:] for item in RELATIONS}


# The city's own township-level units, from its registered towns (see ruleset.town_codes).
TOWNS_TABLE = "towns"
TOWNS_TITLE = N_("Towns and street offices of the city")

BUILTIN: dict[str, BuiltinTable] = {
    table.name: table
    for table in (
        BuiltinTable("gb2261_1", N_("Sex"), "GB/T 2261.1-2003", _sex),
        BuiltinTable("gb2261_2", N_("Marital status"), "GB/T 2261.2-2003", _marital),
        BuiltinTable("gb3304", N_("Ethnic group"), "GB/T 3304-1991", _ethnicity),
        BuiltinTable("gb4761", N_("Family relationship"), "GB/T 4761-2008", _relation),
        BuiltinTable("gb2260", N_("Administrative division"), "GB/T 2260", division_names),
    )
}
