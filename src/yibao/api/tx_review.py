"""3101 / 3102, the pre- and in-event review calls (明细审核事前/事中分析服务), and 3103,
the institution's feedback on their warnings (事前事中服务反馈服务).

3101 (before a prescription is saved) and 3102 (before settling) run yibao's visit rules
(SV05–SV10, docs/supervision.md) on the current encounter's orders and answer each
finding in the standard's ``result`` fields; each is stored with its jr_id so that 3103
can record whether the institution continued (with its reason) or returned to modify
the order. The input is checked as before: a missing required field, or a malformed
amount or time, is refused naming it (docs/interface.md). National names stay here;
services/supervision_review.py reads typed records."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import COUNT_MAX, PRICE_MAX, Fields
from yibao.api.registry import Answer
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_decimal
from yibao.services import supervision_review as sv
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


RULE_IDS_MAX = 100
VOLATION = "1"  # vola_item_type: 违规项 (the line carries part of the amount)
INVOLVED = "2"  # 涉及项 (involved, no amount of its own: the first of duplicates)
AMOUNT_NORMAL = "1"  # vola_amt_stas: 正常


def pre_event(call: Call, inp: Fields) -> Answer:
    """3101."""
    return _review(call, inp, sv.PRE)


def in_event(call: Call, inp: Fields) -> Answer:
    """3102."""
    return _review(call, inp, sv.IN)


def _review(call: Call, inp: Fields, stage: str) -> Answer:
    """``data{patient_dtos, rule_ids, trig_scen}`` -> ``result``: one entry per finding."""
    data = inp.child("data")
    data.text("trig_scen", required=False, max_len=3)
    patients = data.list_of("patient_dtos")
    if not patients:
        raise Refused("E-ENV-004", f"{data.where}.patient_dtos (at least one)")
    for patient in patients:
        _check(patient, PATIENT)
    read = [_patient(call, p) for p in patients]
    answered = sv.review(call, stage, read, _rule_ids(data))
    return Answer({"result": [_result(call, a) for a in answered]})


def _rule_ids(data: Fields) -> list[str]:
    raw = data.node.get("rule_ids")
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or len(raw) > RULE_IDS_MAX or not all(
            isinstance(r, str) and len(r) <= 50 for r in raw):
        raise Refused("E-ENV-005", f"{data.where}.rule_ids must be a list of rule ids")
    return [r.strip() for r in raw]


def _patient(call: Call, node: Fields) -> sv.Patient:
    brdy = node.day("brdy")
    assert brdy is not None  # required
    return sv.Patient(
        patn_id=node.text("patn_id", max_len=50), gend=node.text("gend", max_len=TEXT_MAX),
        brdy=brdy, curr_mdtrt_id=node.text("curr_mdtrt_id", max_len=TEXT_MAX),
        encounters=tuple(_encounter(call, e) for e in node.list_of("fsi_encounter_dtos")))


def _encounter(call: Call, node: Fields) -> sv.Encounter:
    begin = node.moment("adm_date")
    assert begin is not None  # required
    return sv.Encounter(
        mdtrt_id=node.text("mdtrt_id", max_len=TEXT_MAX),
        med_type=node.text("med_type", max_len=TEXT_MAX), begin=begin,
        end=node.moment("dscg_date"),
        orders=tuple(_order(call, o) for o in node.list_of("fsi_order_dtos")))


def _order(call: Call, node: Fields) -> sv.Order:
    amount = node.money("sumamt", negative=True)
    assert amount is not None  # required
    level = f"lv{call.institution.level}_hosp_item_pric"
    return sv.Order(
        rx_id=node.text("rx_id", max_len=TEXT_MAX), code=node.text("hilist_code",
                                                                    max_len=TEXT_MAX),
        list_type=node.text("hilist_type", max_len=TEXT_MAX),
        name=node.text("hilist_name", max_len=TEXT_MAX),
        cnt=node.decimal("cnt", limit=COUNT_MAX, negative=True),
        pric=node.decimal("pric", limit=PRICE_MAX), amount=amount,
        begin=node.moment("drord_begn_date"), current=node.text(
            "curr_drord_flag", max_len=TEXT_MAX) == "1",
        level_price=node.decimal(level, limit=PRICE_MAX) if node.text(
            level, required=False, max_len=30) else None)


def _result(call: Call, a: sv.Answered) -> dict[str, Any]:
    details = [{
        "jrd_id": f"{a.jr_id}-{n}", "patn_id": a.patn_id, "mdtrt_id": a.mdtrt_id,
        "rx_id": a.rx_ids[line], "vola_item_type": VOLATION if share else INVOLVED,
        "vola_amt": fen_to_decimal(share)}
        for n, (line, share) in enumerate(zip(a.finding.lines, a.finding.shares,
                                              strict=True), start=1)]
    return {
        "jr_id": a.jr_id, "rule_id": a.rule.id, "rule_name": a.rule.title_zh,
        "vola_cont": a.finding.message_zh, "patn_id": a.patn_id, "mdtrt_id": a.mdtrt_id,
        "judge_result_detail_dtos": details, "vola_amt": fen_to_decimal(a.finding.amount),
        "vola_amt_stas": AMOUNT_NORMAL, "sev_deg": a.rule.severity,
        "vola_evid": a.rule.basis[:500], "vola_bhvr_type": a.rule.behaviour,
        "task_id": call.ref}


def feedback(call: Call, inp: Fields) -> dict[str, Any]:
    """3103: ``data{warn_type, warns[{warn_rslt_id, dspo_way, dspo_way_rea}]}`` ->
    ``{}`` (the standard names no output); refused as a whole when one warning is."""
    data = inp.child("data")
    warn_type = data.text("warn_type", max_len=6)
    warns = [sv.Feedback(w.text("warn_rslt_id", max_len=40),
                         w.text("dspo_way", max_len=6),
                         w.text("dspo_way_rea", required=False, max_len=sv.REASON_MAX))
             for w in data.list_of("warns")]
    sv.feed_back(call, warn_type, warns)
    return {}
