"""Departments, units and township-level governments of 余姚市 (Yuyao, division code 330281).

Names are the real names of Yuyao's government bodies as they stood in the years of the city's smart-city plan
(2016-2020); the short names are written as the plan and local documents write them. Bodies formed or renamed in
the 2019 institutional reform appear under their names of that time, and only where noted.

Township-level division codes are the first 9 digits of the statistical division codes (统计用区划代码) as
published by the National Bureau of Statistics (国家统计局), codes 330281001-330281201. The coordinates of the
town and street government seats are approximate (WGS84, about 1 km), for map display only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DepartmentSeed:
    """One department, unit or township-level government of the demo city."""

    code: str  # short stable code, 2-6 uppercase ASCII letters
    name: str  # official full name
    short_name: str  # as the plan writes it
    kind: str  # "department" (市直部门/单位) or "town" (乡镇街道)
    division_code: str | None = None  # towns only: 9-digit township-level statistical division code
    lat: float | None = None  # towns only: approximate latitude of the government seat (WGS84)
    lon: float | None = None  # towns only: approximate longitude of the government seat (WGS84)


def _dept(code: str, name: str, short_name: str) -> DepartmentSeed:
    return DepartmentSeed(code=code, name=name, short_name=short_name, kind="department")


def _town(code: str, name: str, short_name: str, division_code: str, lat: float, lon: float) -> DepartmentSeed:
    return DepartmentSeed(
        code=code, name=name, short_name=short_name, kind="town", division_code=division_code, lat=lat, lon=lon
    )


CITY_DEPARTMENTS: tuple[DepartmentSeed, ...] = (
    # 市委工作机关、市政府办事机构
    _dept("ZFB", "余姚市人民政府办公室", "市政府办公室"),
    _dept("ZZB", "中共余姚市委组织部", "市委组织部"),
    _dept("XCB", "中共余姚市委宣传部", "市委宣传部"),
    _dept("ZFW", "中共余姚市委政法委员会", "市委政法委"),
    _dept("BB", "中共余姚市委机构编制委员会办公室", "市编办"),
    _dept("FZB", "余姚市人民政府法制办公室", "市法制办"),
    _dept("JRB", "余姚市人民政府金融工作办公室", "市金融办"),
    _dept("XFJ", "余姚市信访局", "市信访局"),
    # 市政府工作部门
    _dept("FGJ", "余姚市发展和改革局", "市发展和改革局"),
    _dept("JXJ", "余姚市经济和信息化局", "市经济和信息化局"),
    _dept("JYJ", "余姚市教育局", "市教育局"),
    _dept("KJJ", "余姚市科学技术局", "市科学技术局"),
    _dept("MZZJ", "余姚市民族宗教事务局", "市民族宗教事务局"),
    _dept("GAJ", "余姚市公安局", "市公安局"),
    _dept("JJDD", "余姚市公安局交通警察大队", "市公安局交警大队"),
    _dept("MZJ", "余姚市民政局", "市民政局"),
    _dept("SFJ", "余姚市司法局", "市司法局"),
    _dept("CZJ", "余姚市财政局", "市财政局"),
    _dept("RSJ", "余姚市人力资源和社会保障局", "市人力资源和社会保障局"),
    _dept("GTJ", "余姚市国土资源局", "市国土资源局"),
    _dept("HBJ", "余姚市环境保护局", "市环境保护局"),
    _dept("ZJJ", "余姚市住房和城乡建设局", "市住房和城乡建设局"),
    _dept("GHJ", "余姚市规划局", "市规划局"),
    _dept("JTJ", "余姚市交通运输局", "市交通运输局"),
    _dept("SLJ", "余姚市水利局", "市水利局"),
    _dept("NLJ", "余姚市农林局", "市农林局"),
    _dept("SWJ", "余姚市商务局", "市商务局"),
    _dept("WGXJ", "余姚市文化广电新闻出版局", "市文化广电新闻出版局"),
    _dept("WJJ", "余姚市卫生和计划生育局", "市卫生和计划生育局"),
    _dept("SJJ", "余姚市审计局", "市审计局"),
    _dept("TJJ", "余姚市统计局", "市统计局"),
    _dept("AJJ", "余姚市安全生产监督管理局", "市安全生产监督管理局"),
    _dept("LYJ", "余姚市旅游局", "市旅游局"),
    _dept("ZFJ", "余姚市综合行政执法局", "市综合行政执法局"),
    _dept("SCJ", "余姚市市场监督管理局", "市市场监督管理局"),
    _dept("LSJ", "余姚市粮食局", "市粮食局"),
    _dept("WJ", "余姚市物价局", "市物价局"),
    _dept("RFB", "余姚市人民防空办公室", "市人防办"),
    _dept("JGSWJ", "余姚市机关事务管理局", "市机关事务管理局"),
    _dept("SPB", "余姚市行政审批管理办公室", "市审批办"),
    # 2019年机构改革中组建
    _dept("YBJ", "余姚市医疗保障局", "市医疗保障局"),
    # 垂直管理及双重管理单位
    _dept("GSJ", "余姚市国家税务局", "市国税局"),
    _dept("DSJ", "余姚市地方税务局", "市地税局"),
    _dept("QXJ", "余姚市气象局", "市气象局"),
    _dept("GJJ", "宁波市住房公积金管理中心余姚分中心", "市住房公积金管理中心"),
    _dept("XFDD", "余姚市公安消防大队", "市消防大队"),
    # 直属事业单位
    _dept("DAJ", "余姚市档案局", "市档案局"),
    _dept("BDC", "余姚市不动产登记中心", "市不动产登记中心"),
    _dept("GGZY", "余姚市公共资源交易中心", "市公共资源交易中心"),
    _dept("HLW", "余姚市互联网经济促进中心", "市互联网经济促进中心"),
    _dept("GDT", "余姚市广播电视台", "市广播电视台"),
    _dept("GXS", "余姚市供销合作社", "市供销社"),
    _dept("SLC", "中国塑料城管理委员会", "中国塑料城管委会"),
    _dept("KFQ", "余姚经济开发区管理委员会", "余姚经济开发区管委会"),
    _dept("TSG", "余姚市图书馆", "市图书馆"),
    _dept("BWG", "余姚博物馆", "余姚博物馆"),
    _dept("HMDYZ", "河姆渡遗址博物馆", "河姆渡遗址博物馆"),
    # 卫生计生事业单位
    _dept("JKZX", "余姚市疾病预防控制中心", "市疾控中心"),
    _dept("JJZ", "余姚市120急救站", "市120急救站"),
    _dept("LCJY", "余姚市临床检验中心", "市临床检验中心"),
    _dept("RMYY", "余姚市人民医院", "市人民医院"),
    _dept("ZYY", "余姚市中医医院", "市中医医院"),
    _dept("DEYY", "余姚市第二人民医院", "市第二人民医院"),
    _dept("FYBJ", "余姚市妇幼保健院", "市妇幼保健院"),
    # 群团组织
    _dept("ZGH", "余姚市总工会", "市总工会"),
    _dept("TSW", "共青团余姚市委员会", "团市委"),
    _dept("FLH", "余姚市妇女联合会", "市妇联"),
    _dept("CLH", "余姚市残疾人联合会", "市残联"),
    _dept("KX", "余姚市科学技术协会", "市科协"),
    _dept("HSH", "余姚市红十字会", "市红十字会"),
    _dept("GSL", "余姚市工商业联合会", "市工商联"),
    # 审判、检察机关
    _dept("FY", "余姚市人民法院", "市人民法院"),
    _dept("JCY", "余姚市人民检察院", "市人民检察院"),
)

# The 21 township-level units: 6 streets (街道), 14 towns (镇) and 1 township (乡).
TOWNS: tuple[DepartmentSeed, ...] = (
    _town("LZJD", "余姚市梨洲街道办事处", "梨洲街道", "330281001", 30.036, 121.172),
    _town("FSJD", "余姚市凤山街道办事处", "凤山街道", "330281002", 30.048, 121.131),
    _town("LJJD", "余姚市兰江街道办事处", "兰江街道", "330281003", 30.026, 121.150),
    _town("YMJD", "余姚市阳明街道办事处", "阳明街道", "330281004", 30.047, 121.153),
    _town("DTJD", "余姚市低塘街道办事处", "低塘街道", "330281005", 30.074, 121.193),
    _town("LXJD", "余姚市朗霞街道办事处", "朗霞街道", "330281006", 30.101, 121.163),
    _town("LSZ", "余姚市临山镇人民政府", "临山镇", "330281100", 30.132, 120.981),
    _town("HJBZ", "余姚市黄家埠镇人民政府", "黄家埠镇", "330281101", 30.120, 120.946),
    _town("XCEZ", "余姚市小曹娥镇人民政府", "小曹娥镇", "330281102", 30.156, 121.128),
    _town("SMZ", "余姚市泗门镇人民政府", "泗门镇", "330281103", 30.168, 121.071),
    _town("MZZ", "余姚市马渚镇人民政府", "马渚镇", "330281106", 30.053, 121.081),
    _town("MSZ", "余姚市牟山镇人民政府", "牟山镇", "330281108", 30.087, 121.028),
    _town("ZTZ", "余姚市丈亭镇人民政府", "丈亭镇", "330281109", 30.031, 121.305),
    _town("SQSZ", "余姚市三七市镇人民政府", "三七市镇", "330281110", 30.029, 121.262),
    _town("HMDZ", "余姚市河姆渡镇人民政府", "河姆渡镇", "330281111", 29.993, 121.343),
    _town("DYZ", "余姚市大隐镇人民政府", "大隐镇", "330281112", 29.974, 121.365),
    _town("LBZ", "余姚市陆埠镇人民政府", "陆埠镇", "330281113", 29.962, 121.251),
    _town("LNZ", "余姚市梁弄镇人民政府", "梁弄镇", "330281114", 29.916, 121.040),
    _town("DLZ", "余姚市大岚镇人民政府", "大岚镇", "330281115", 29.828, 121.118),
    _town("SMSZ", "余姚市四明山镇人民政府", "四明山镇", "330281116", 29.877, 121.047),
    _town("LTX", "余姚市鹿亭乡人民政府", "鹿亭乡", "330281201", 29.883, 121.201),
)

DEPARTMENTS: tuple[DepartmentSeed, ...] = CITY_DEPARTMENTS + TOWNS
