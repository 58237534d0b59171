"""Code tables of the national interface that the domain reasons about.

The full dictionaries served by 1901 live in ``dictionaries.py``; here are the
meanings the engine needs: visit class of a med_type, person group of a psn_type,
which setlinfo field a fund pays into.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class VisitClass(StrEnum):
    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"


MED_TYPES: dict[str, str] = {
    "11": "普通门诊",
    "13": "急诊",
    "14": "门诊慢特病",
    "19": "意外伤害门诊",
    "21": "普通住院",
    "22": "外伤住院",
    "24": "急诊转住院",
    "41": "定点药店购药",
    "51": "生育门诊",
    "52": "生育住院",
}
OUTPATIENT_MED_TYPES = frozenset({"11", "13", "14", "19", "41", "51"})
INPATIENT_MED_TYPES = frozenset({"21", "22", "24", "52"})

PSN_TYPES: dict[str, str] = {
    "1101": "职工在职",
    "1102": "公务员在职",
    "1201": "职工退休",
    "1202": "公务员退休",
    "1300": "离休人员",
    "1401": "新生儿",
    "1402": "学龄前儿童",
    "1403": "中小学生",
    "1404": "大学生",
    "1405": "未成年 (未入学)",
    "1501": "成年居民",
}


def visit_class_of(med_type: str) -> VisitClass | None:
    if med_type in OUTPATIENT_MED_TYPES:
        return VisitClass.OUTPATIENT
    if med_type in INPATIENT_MED_TYPES:
        return VisitClass.INPATIENT
    return None


class PersonGroup(StrEnum):
    WORKING = "working"
    RETIRED_UNDER_70 = "retired_under_70"
    RETIRED_70_PLUS = "retired_70_plus"
    RESIDENT_ADULT = "resident_adult"
    RESIDENT_CHILD = "resident_child"


def age_on(birth: date, day: date) -> int:
    years = day.year - birth.year
    return years - ((day.month, day.day) < (birth.month, birth.day))


def person_group_of(psn_type: str, birth: date, day: date) -> PersonGroup:
    """Group used by policies: from the person type, and age for retirees."""
    if psn_type.startswith("11"):
        return PersonGroup.WORKING
    if psn_type.startswith("12") or psn_type.startswith("13"):
        if age_on(birth, day) >= 70:
            return PersonGroup.RETIRED_70_PLUS
        return PersonGroup.RETIRED_UNDER_70
    if psn_type.startswith("14"):
        return PersonGroup.RESIDENT_CHILD
    return PersonGroup.RESIDENT_ADULT


# fund_pay_type -> (name, setlinfo field it is reported in)
FUNDS: dict[str, tuple[str, str]] = {
    "310100": ("职工基本医疗保险统筹基金", "hifp_pay"),
    "320100": ("公务员医疗补助资金", "cvlserv_pay"),
    "330100": ("职工大额医疗费用补助基金", "hifob_pay"),
    "340100": ("离休人员医疗保障基金", "oth_pay"),
    "390100": ("城乡居民基本医疗保险基金", "hifp_pay"),
    "390200": ("城乡居民大病医疗保险资金", "hifmi_pay"),
    "510100": ("生育基金", "oth_pay"),
    "610100": ("医疗救助基金", "maf_pay"),
    # the national table's 其他基金: the public-finance subsidy (财政补助) of a population
    # group's personal share is paid as this line where a policy says so (docs/fever.md)
    "999997": ("其他基金", "oth_pay"),
    "999999": ("其他基金", "oth_pay"),
}

# 就诊人群类型 (MDTRT_GRP_TYPE, table 598 of the standard): sent in exp_content of 2401,
# 2403, 2206, 2207 (and 2203); a policy's [[group]] may give a group its own rule
MDTRT_GRP_TYPES: dict[str, str] = {
    "1": "新冠肺炎确诊患者",
    "2": "其他国家突发公共事件",
    "3": "新冠肺炎疑似患者",
    "4": "无症状感染者",
}

EMPLOYEE_POOL_FUND = "310100"
RESIDENT_POOL_FUND = "390100"


def pool_fund(insutype: str) -> str:
    """The basic pooling fund of an insurance type (2001 answers it when no scheme of the
    person's policy names the funds): the employees' for 310, else the residents'."""
    return EMPLOYEE_POOL_FUND if insutype == "310" else RESIDENT_POOL_FUND


FUND_FIELDS = (
    "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay"
)

INSUTYPES: dict[str, str] = {
    "310": "职工基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "390": "城乡居民基本医疗保险",
    "392": "城乡居民大病医疗保险",
    "510": "生育保险",
}

CHRGITM_LV = {"01": "甲类", "02": "乙类", "03": "丙类"}

# The national tables yibao reasons with; 1901 serves them in place of regional variants.
NATIONAL_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "med_type": ("医疗类别", MED_TYPES),
    "psn_type": ("人员类别", PSN_TYPES),
    "insutype": ("险种类型", INSUTYPES),
    "fund_pay_type": ("基金支付类型", {code: name for code, (name, _) in FUNDS.items()}),
    "chrgitm_lv": ("收费项目等级", CHRGITM_LV),
}
