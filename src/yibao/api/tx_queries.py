"""Queries 5201-5206: visits, diagnoses, settlements, fee details, chronic-disease
drug records and the year-to-date accumulators."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from yibao.api.fields import Fields
from yibao.api.tx_settlement import render
from yibao.domain.catalogue import charge_category, price_cap_answer
from yibao.domain.codes import age_on
from yibao.domain.engine import COUNT_KEYS
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_decimal
from yibao.domain.states import SettlementKind
from yibao.domain.text import is_digits
from yibao.domain.visit_states import VisitStatus
from yibao.services import accumulators, persons, queries
from yibao.services.context import Call
from yibao.services.settlement import Outcome
from yibao.services.visits import get_visit

EPOCH = datetime(1900, 1, 1)


def _fee_out(row: Any) -> dict[str, Any]:
    return {
        "feedetl_sn": row["feedetl_sn"], "mdtrt_id": row["mdtrt_id"],
        "setl_id": row["setl_id"] or "", "fee_ocur_time": row["fee_ocur_time"] or "",
        "cnt": row["cnt"], "pric": row["pric"],
        "det_item_fee_sumamt": fen_to_decimal(row["det_item_fee_sumamt"]),
        "pric_uplmt_amt": price_cap_answer(
            None if row["pric_uplmt_amt"] is None else Decimal(row["pric_uplmt_amt"])),
        "selfpay_prop": row["selfpay_prop"],
        "fulamt_ownpay_amt": fen_to_decimal(row["fulamt_ownpay_amt"]),
        "overlmt_amt": fen_to_decimal(row["overlmt_amt"]),
        "preselfpay_amt": fen_to_decimal(row["preselfpay_amt"]),
        "inscp_scp_amt": fen_to_decimal(row["inscp_scp_amt"]),
        "chrgitm_lv": row["chrgitm_lv"], "hilist_code": row["med_list_codg"],
        "list_type": row["list_type"], "med_list_codg": row["med_list_codg"],
        "medins_list_codg": row["medins_list_codg"], "medins_list_name": row["med_list_name"],
        "med_chrgitm_type": charge_category(row["med_chrgitm_type"], row["list_type"]),
        "memo": row["memo"],
    }


def visits(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    psn_no = data.text("psn_no", max_len=30)
    person = persons.get_person(call.conn, psn_no)
    rows = queries.visits_between(
        call, psn_no, data.moment("begntime") or EPOCH, data.moment("endtime") or call.now,
        data.text("med_type", required=False, max_len=6),
        data.text("mdtrt_id", required=False, max_len=30),
    )
    return {"mdtrtinfo": [
        {
            "mdtrt_id": r["mdtrt_id"], "psn_no": psn_no,
            "psn_cert_type": person["psn_cert_type"], "certno": person["certno"],
            "psn_name": person["name"], "gend": person["gend"], "naty": person["naty"],
            "brdy": person["brdy"].isoformat(), "age": age_on(person["brdy"], call.now.date()),
            "insutype": r["insutype"], "begntime": r["begntime"], "endtime": r["endtime"] or "",
            "mdtrt_cert_type": r["mdtrt_cert_type"], "med_type": r["med_type"],
            "ipt_otp_no": r["ipt_otp_no"], "atddr_no": r["atddr_no"],
            "adm_dept_codg": r["dept_code"], "adm_dept_name": r["dept_name"],
            "dscg_way": r["dscg_way"],
            "inhosp_stas": "1" if r["status"] == VisitStatus.OPEN else "0",
            "memo": r["status"],
        }
        for r in rows
    ]}


def diagnoses(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    mdtrt_id = data.text("mdtrt_id", max_len=30)
    get_visit(call, mdtrt_id, data.text("psn_no", max_len=30))
    return {"diseinfo": [
        {
            "diag_info_id": str(r["id"]), "mdtrt_id": mdtrt_id, "psn_no": r["psn_no"],
            "inout_diag_type": "2" if r["stage"] == "discharge" else "1",
            "diag_type": r["diag_type"], "maindiag_flag": "1" if r["diag_srt_no"] == 1 else "0",
            "diag_srt_no": r["diag_srt_no"], "diag_code": r["diag_code"],
            "diag_name": r["diag_name"], "diag_dept": r["diag_dept"],
            "dise_dor_no": r["dise_dor_no"], "dise_dor_name": r["dise_dor_name"],
            "diag_time": r["diag_time"] or "",
        }
        for r in queries.diagnoses(call, mdtrt_id)
    ]}


def _ids(inp: Fields) -> tuple[str, str, str]:
    data = inp.child("data")
    return (data.text("setl_id", max_len=30), data.text("mdtrt_id", max_len=30),
            data.text("psn_no", max_len=30))


def settlement_info(call: Call, inp: Fields) -> dict[str, Any]:
    setl_id, mdtrt_id, psn_no = _ids(inp)
    row = queries.settlement_of(call, setl_id, mdtrt_id, psn_no)
    funds = [dict(f) for f in queries.fund_lines(call, setl_id)]
    person = persons.get_person(call.conn, psn_no)
    out = render(call, Outcome(dict(row), funds, person))
    cancelled = row["kind"] == SettlementKind.CANCEL or queries.is_cancelled(call, setl_id)
    out["setlinfo"].update(
        refd_setl_flag="1" if row["kind"] == SettlementKind.CANCEL else "0", year=str(row["year"]),
        fixmedins_code=row["fixmedins_code"], fixmedins_name=call.institution.name,
        hosp_lv=str(call.institution.level), psn_pay=out["setlinfo"]["psn_part_amt"],
        cash_payamt=out["setlinfo"]["psn_cash_pay"], memo="cancelled" if cancelled else "",
    )
    return out


def settlement_lines(call: Call, inp: Fields) -> dict[str, Any]:
    setl_id, mdtrt_id, psn_no = _ids(inp)
    row = queries.settlement_of(call, setl_id, mdtrt_id, psn_no)
    lines = queries.settled_lines(call, row["reverses"] or setl_id)
    return {"feedetail": [dict(_fee_out(r), setl_id=setl_id, med_type=row["med_type"])
                          for r in lines]}


def chronic_records(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    psn_no = data.text("psn_no", max_len=30)
    persons.get_person(call.conn, psn_no)
    rows = queries.chronic_lines(
        call, psn_no, data.moment("begntime") or EPOCH,
        data.moment("endtime", required=False) or call.now,
    )
    return {"feedetail": [
        dict(_fee_out(r), fixmedins_code=r["fixmedins_code"], psn_no=psn_no,
             med_type=r["med_type"])
        for r in rows
    ]}


def accumulations(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    psn_no = data.text("psn_no", max_len=30)
    persons.get_person(call.conn, psn_no)
    cum_ym = data.text("cum_ym", required=False, max_len=6) or f"{call.now:%Y%m}"
    if not (len(cum_ym) == 6 and is_digits(cum_ym) and 1 <= int(cum_ym[4:]) <= 12):
        raise Refused("E-ENV-005", "input.data.cum_ym must be yyyyMM")
    rows = accumulators.for_person(call.conn, psn_no, year=int(cum_ym[:4]))
    return {"cuminfo": [
        {
            "insutype": r["insutype"], "year": r["period"], "cum_ym": cum_ym,
            "cum_type_code": r["cum_key"],
            "cum": r["cum"] if r["cum_key"].startswith(COUNT_KEYS) else fen_to_decimal(r["cum"]),
        }
        for r in rows
    ]}


def in_hospital(call: Call, inp: Fields) -> dict[str, Any]:
    """5303 在院信息查询: the caller's inpatients admitted between begntime and endtime and
    not yet discharged (one person's with ``psn_no``) -> ``data[]``; ``out_flag`` 1 for a
    person insured elsewhere (care away from home)."""
    data = inp.child("data")
    begin, end = data.moment("begntime"), data.moment("endtime")
    assert begin is not None and end is not None
    if end < begin:
        raise Refused("E-ENV-005", f"{data.where}.endtime is before begntime")
    psn_no = data.text("psn_no", required=False, max_len=30)
    return {"data": [
        {
            "mdtrt_id": r["mdtrt_id"], "psn_no": r["psn_no"],
            "psn_cert_type": r["psn_cert_type"], "certno": r["certno"],
            "psn_name": r["psn_name"], "gend": r["gend"], "brdy": r["brdy"].isoformat(),
            "age": age_on(r["brdy"], call.now.date()), "insutype": r["insutype"],
            "begndate": r["begntime"].date().isoformat(), "med_type": r["med_type"],
            "ipt_otp_no": r["ipt_otp_no"],
            "out_flag": "0" if r["insuplc_admdvs"] == call.institution.pool_area else "1",
        }
        for r in queries.in_hospital(call, psn_no, begin, end)
    ]}
