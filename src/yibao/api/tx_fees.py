"""Fee details over the interface: 2204/2205 outpatient, 2301/2302 inpatient, 2306 a
line's memo."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import COUNT_MAX, PRICE_MAX, Fields
from yibao.api.registry import Answer
from yibao.domain.catalogue import Classified, price_cap_answer
from yibao.domain.codes import VisitClass
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_decimal
from yibao.services import fees
from yibao.services.context import Call


def read_line(item: Fields, *, refunds: bool) -> fees.FeeLineIn:
    return fees.FeeLineIn(
        feedetl_sn=item.text("feedetl_sn", max_len=30),
        init_feedetl_sn=item.text("init_feedetl_sn", required=False, max_len=30),
        chrg_bchno=item.text("chrg_bchno", required=False, max_len=30) or "0",
        list_code=item.text("med_list_codg", max_len=50),
        medins_code=item.text("medins_list_codg", max_len=150),
        name=item.text("medins_list_name", required=False, max_len=200),
        amount=item.money("det_item_fee_sumamt", negative=refunds) or 0,
        count=item.decimal("cnt", limit=COUNT_MAX, negative=refunds),
        price=item.decimal("pric", limit=PRICE_MAX),
        time=item.moment("fee_ocur_time", required=False),
    )


def _upload(call: Call, inp: Fields, visit_class: VisitClass) -> Answer:
    items = inp.list_of("feedetail")
    if not items:
        raise Refused("E-ENV-004", "input.feedetail is empty")
    refunds = visit_class is VisitClass.INPATIENT
    read = [(item.text("mdtrt_id", max_len=30), item.text("psn_no", max_len=30),
             read_line(item, refunds=refunds)) for item in items]
    visits_named = {(mdtrt_id, psn_no) for mdtrt_id, psn_no, _ in read}
    if len(visits_named) != 1:
        raise Refused("E-ENV-005", "all fee lines of one message must share mdtrt_id and psn_no")
    ((mdtrt_id, psn_no),) = visits_named
    done = fees.upload(call, mdtrt_id, psn_no, [line for _, _, line in read], visit_class)
    return Answer({"result": [line_out(line, c, placed) for line, c, placed in done.value]},
                  done.effect)


def line_out(line: fees.FeeLineIn, c: Classified, placed: fees.Placed) -> dict[str, Any]:
    return {
        "feedetl_sn": line.feedetl_sn,
        "det_item_fee_sumamt": fen_to_decimal(line.amount),
        "cnt": line.count,
        "pric": line.price,
        "pric_uplmt_amt": price_cap_answer(c.price_cap),
        "selfpay_prop": c.selfpay_ratio,
        "fulamt_ownpay_amt": fen_to_decimal(c.fulamt_ownpay),
        "overlmt_amt": fen_to_decimal(c.overlmt_selfpay),
        "preselfpay_amt": fen_to_decimal(c.preselfpay),
        "inscp_scp_amt": fen_to_decimal(c.in_scope),
        "chrgitm_lv": c.chrgitm_lv,
        "med_chrgitm_type": placed.category,
        "bas_medn_flag": "0",
        "hi_nego_drug_flag": "0",
        "chld_medc_flag": "0",
        "list_sp_item_flag": "0",
        "lmt_used_flag": "0",
        "drt_reim_flag": "0",
        "memo": "" if placed.list_type else "not in the catalogue of the place of treatment",
    }


def upload_outpatient(call: Call, inp: Fields) -> Answer:
    return _upload(call, inp, VisitClass.OUTPATIENT)


def upload_inpatient(call: Call, inp: Fields) -> Answer:
    return _upload(call, inp, VisitClass.INPATIENT)


def cancel_outpatient(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    done = fees.cancel(
        call, data.text("mdtrt_id", max_len=30), data.text("psn_no", max_len=30),
        batch=data.text("chrg_bchno", max_len=30),
    )
    return Answer({}, done.effect)


def cancel_inpatient(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    done = fees.cancel(
        call, data.text("mdtrt_id", max_len=30), data.text("psn_no", max_len=30),
        feedetl_sn=data.text("feedetl_sn", max_len=30),
    )
    return Answer({}, done.effect)


def change_memos(call: Call, inp: Fields) -> dict[str, Any]:
    """2306 费用明细修改备注: ``data`` (one object or a list of them); bkkp_sn is the
    line's feedetl_sn."""
    items = inp.list_of("data")
    if not items:
        raise Refused("E-ENV-004", "input.data is empty")
    fees.set_memos(call, [
        fees.MemoChange(
            mdtrt_id=item.text("mdtrt_id", max_len=30), psn_no=item.text("psn_no", max_len=30),
            feedetl_sn=item.text("bkkp_sn", max_len=30),
            list_code=item.text("med_list_codg", max_len=50),
            memo=item.text("memo", required=False, max_len=500))
        for item in items
    ])
    return {}
