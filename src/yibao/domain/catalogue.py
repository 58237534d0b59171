"""Classification of fee lines against the catalogue of the place of treatment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from yibao.domain.money import Fen, apply_ratio, price_times_count

CLASS_A = "01"  # 甲: fully in scope
CLASS_B = "02"  # 乙: in scope after a first self-pay ratio
CLASS_C = "03"  # 丙: fully self-paid
PRICE_TOLERANCE_FEN = 1  # HIS systems round price x count in different places

# pric_uplmt_amt of an item without a price cap: the field is required (never empty) and
# platforms in service answer 999999 there, meaning "no cap" (docs/interface.md)
NO_PRICE_CAP = Decimal(999999)

# med_chrgitm_type (医疗收费项目类别, the 1901 dictionary med_chrgitm_type, 01-14) of an
# item whose catalogue row does not say: by its list type (目录类别). A medical service
# (201) can be any of 01-07, 12, 13; without the row's own category it is 14 (其他费).
CHARGE_CATEGORY_OTHER = "14"
CHARGE_CATEGORY_BY_LIST_TYPE = {
    "101": "09",  # 西药中成药 -> 西药费
    "102": "10",  # 中药饮片 -> 中药饮片费
    "103": "09",  # 医疗机构制剂 -> 西药费
    "104": "11",  # 民族药 -> 中成药费
    "106": "10",  # 中药配方颗粒 -> 中药饮片费
    "301": "08",  # 医用耗材 -> 卫生材料费
}


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    code: str
    name: str
    chrgitm_lv: str
    price_cap: Decimal | None  # yuan per unit; None = no cap
    selfpay_ratio: Decimal
    list_type: str = ""
    charge_category: str = ""  # med_chrgitm_type 01-14 ("" : by list_type)


def charge_category(stored: str, list_type: str) -> str:
    """The fee-item category (med_chrgitm_type, 01-14) an answer carries: the catalogue
    row's own, else the one its list type implies, else 14 (其他费: an item outside the
    catalogue, a service without its category)."""
    if stored:
        return stored
    return CHARGE_CATEGORY_BY_LIST_TYPE.get(list_type, CHARGE_CATEGORY_OTHER)


def price_cap_answer(cap: Decimal | None) -> Decimal:
    """pric_uplmt_amt as answered: the cap, or NO_PRICE_CAP for an item without one."""
    return NO_PRICE_CAP if cap is None else cap


@dataclass(frozen=True, slots=True)
class Classified:
    """One fee line split into the four parts that add up to its amount."""

    amount: Fen
    fulamt_ownpay: Fen
    overlmt_selfpay: Fen
    preselfpay: Fen
    in_scope: Fen
    chrgitm_lv: str
    selfpay_ratio: Decimal
    price_cap: Decimal | None

    def __post_init__(self) -> None:
        parts = self.fulamt_ownpay + self.overlmt_selfpay + self.preselfpay + self.in_scope
        assert parts == self.amount, (parts, self.amount)


def amount_matches(amount: Fen, price: Decimal, count: Decimal) -> bool:
    return abs(price_times_count(price, count) - amount) <= PRICE_TOLERANCE_FEN


def classify(item: CatalogueItem | None, amount: Fen, price: Decimal, count: Decimal) -> Classified:
    """Split a fee line (a refund line has negative amount and count) by catalogue rules."""
    if amount < 0:
        return _negate(classify(item, -amount, price, -count))
    if item is None or item.chrgitm_lv == CLASS_C:
        return Classified(
            amount, amount, 0, 0, 0, CLASS_C if item is None else item.chrgitm_lv,
            Decimal(1), None if item is None else item.price_cap,
        )
    overlmt = 0
    if item.price_cap is not None and price > item.price_cap:
        overlmt = min(amount, max(0, amount - price_times_count(item.price_cap, count)))
    within = amount - overlmt
    ratio = item.selfpay_ratio if item.chrgitm_lv == CLASS_B else Decimal(0)
    preselfpay = apply_ratio(within, ratio)
    return Classified(
        amount, 0, overlmt, preselfpay, within - preselfpay, item.chrgitm_lv, ratio,
        item.price_cap,
    )


def _negate(c: Classified) -> Classified:
    return Classified(
        -c.amount, -c.fulamt_ownpay, -c.overlmt_selfpay, -c.preselfpay, -c.in_scope,
        c.chrgitm_lv, c.selfpay_ratio, c.price_cap,
    )


@dataclass(frozen=True, slots=True)
class Totals:
    medfee: Fen
    fulamt_ownpay: Fen
    overlmt_selfpay: Fen
    preselfpay: Fen
    in_scope: Fen


def totals(lines: Iterable[Classified]) -> Totals:
    medfee = fulamt = overlmt = pre = scope = 0
    for line in lines:
        medfee += line.amount
        fulamt += line.fulamt_ownpay
        overlmt += line.overlmt_selfpay
        pre += line.preselfpay
        scope += line.in_scope
    return Totals(medfee, fulamt, overlmt, pre, scope)
