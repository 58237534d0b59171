"""3101 / 3102, the pre- and in-event review calls (明细审核事前/事中分析服务).

yibao has no supervision rules yet: both answer the standard's output with no findings
(``result`` an empty list), so that a HIS configured to call them before saving a
prescription (3101) or before settling (3102) keeps working. The input is read all the
same and a missing required field, or a malformed amount or time, is refused naming it
(docs/interface.md). Nothing is stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from yibao.api.fields import COUNT_MAX, PRICE_MAX, Fields
from yibao.domain.errors import Refused
from yibao.services.context import Call

TEXT_MAX = 1000  # the review fields are checked for presence and type, not the standard's
# lengths (a name longer than its 50 characters still gets its review)

# node -> (required text, required amounts, required times, required lists); the optional
# fields with a format: OPTIONAL_AMOUNTS, OPTIONAL_TIMES, PRICES, COUNTS
PATIENT = (("patn_id", "patn_name", "gend", "poolarea", "curr_mdtrt_id"), (), ("brdy",),
           ("fsi_encounter_dtos",))
ENCOUNTER = (
    ("mdtrt_id", "medins_id", "medins_name", "medins_admdvs", "medins_type", "medins_lv",
     "dscg_main_dise_codg", "dscg_main_dise_name", "dr_codg", "adm_dept_codg",
     "adm_dept_name", "dscg_dept_codg", "dscg_dept_name", "med_mdtrt_type", "med_type",
     "matn_stas", "setl_totlnum", "insutype", "reim_flag", "out_setl_flag"),
    ("medfee_sumamt", "ownpay_amt", "selfpay_amt"), ("adm_date", "dscg_date"),
    ("fsi_diagnose_dtos", "fsi_order_dtos"),
)
DIAGNOSIS = (("dise_id", "inout_dise_type", "maindise_flag", "dias_srt_no", "dise_codg",
              "dise_name"), (), ("dise_date",), ())
ORDER = (
    ("rx_id", "rxno", "long_drord_flag", "hilist_type", "chrg_type", "drord_bhvr",
     "hilist_code", "hilist_name", "hilist_lv", "hosplist_code", "hosplist_name", "spec",
     "spec_unt", "drord_dept_codg", "drord_dept_name", "drord_dr_codg", "drord_dr_name",
     "drord_dr_profttl", "curr_drord_flag"),
    ("sumamt", "ownpay_amt", "selfpay_amt"), ("drord_begn_date",), (),
)
OPERATION = (("setl_list_oprn_id", "main_oprn_flag"), (), (), ())
OPTIONAL_AMOUNTS = ("acct_payamt", "ma_amt", "hifp_payamt")
OPTIONAL_TIMES = ("drord_stop_date", "oprn_date")
PRICES = ("hilist_pric", "pric")  # required unit prices of an order (up to 6 decimals)
OPTIONAL_PRICES = ("lv1_hosp_item_pric", "lv2_hosp_item_pric", "lv3_hosp_item_pric")
NESTED = {"fsi_encounter_dtos": ENCOUNTER, "fsi_diagnose_dtos": DIAGNOSIS,
          "fsi_order_dtos": ORDER, "fsi_operation_dtos": OPERATION}
Shape = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _check(node: Fields, shape: Shape) -> None:
    """The node's required fields are there and every field with a format has it; the
    nested lists (NESTED) are checked the same way, depth first."""
    texts, amounts, times, lists = shape
    for name in texts:
        node.text(name, max_len=TEXT_MAX)
    for name in amounts:
        node.money(name)
    for name in OPTIONAL_AMOUNTS:
        node.money(name, required=False)
    for name in times:
        node.moment(name)
    for name in OPTIONAL_TIMES:
        node.moment(name, required=False)
    if shape is ORDER:
        _check_order_numbers(node)
    for name in (*lists, *(n for n in NESTED if n not in lists)):
        items = node.list_of(name, required=name in lists)
        if name in lists and not items:
            raise Refused("E-ENV-004", f"{node.where}.{name} (at least one)")
        for item in items:
            _check(item, NESTED[name])


def _check_order_numbers(order: Fields) -> None:
    for name in PRICES:
        order.decimal(name, limit=PRICE_MAX)
    for name in OPTIONAL_PRICES:
        if order.text(name, required=False, max_len=30):
            order.decimal(name, limit=PRICE_MAX)
    order.decimal("cnt", limit=COUNT_MAX, negative=True)


def review(call: Call, inp: Fields) -> dict[str, Any]:
    """3101 / 3102: ``data{patient_dtos, rule_ids, trig_scen}`` -> ``result: []`` (no
    findings: yibao has no review rules yet)."""
    data = inp.child("data")
    data.text("trig_scen", required=False, max_len=3)
    patients = data.list_of("patient_dtos")
    if not patients:
        raise Refused("E-ENV-004", f"{data.where}.patient_dtos (at least one)")
    for patient in patients:
        _check(patient, PATIENT)
    findings: list[dict[str, Decimal | str]] = []
    return {"result": findings}
