"""Special visit attributes over the interface: 2406 records one, 2407 lists them."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import Fields
from yibao.api.tx_catalogue import paged_answer, read_page
from yibao.services import visit_attributes
from yibao.services.context import Call
from yibao.services.visit_attributes import Attribute, AttributeFilter


def record(call: Call, inp: Fields) -> dict[str, Any]:
    """2406 就医特殊属性上传: ``data`` -> ``IptPsnSpFlagRegOut{ipt_psn_sp_flag_detl_id}``."""
    data = inp.child("data")
    detl_id = visit_attributes.record(call, Attribute(
        mdtrt_id=data.text("mdtrt_id", max_len=30), psn_no=data.text("psn_no", max_len=30),
        cert_type=data.text("psn_cert_type", max_len=6), certno=data.text("certno", max_len=50),
        name=data.text("psn_name", max_len=50), ipt_otp_no=data.text("ipt_otp_no", max_len=30),
        flag_type=data.text("ipt_psn_sp_flag_type", max_len=6),
        flag=data.text("ipt_psn_sp_flag", max_len=6),
        memo=data.text("memo", required=False, max_len=500),
        admdvs=data.text("admdvs", required=False, max_len=6),
    ))
    return {"IptPsnSpFlagRegOut": {"ipt_psn_sp_flag_detl_id": detl_id}}


def listed(call: Call, inp: Fields) -> dict[str, Any]:
    """2407 就医特殊属性查询: ``data`` (page_num, page_size required; the rest narrows) ->
    ``IptPsnSpFlagReg[]`` with the paging fields of 1312. Only the caller's attributes:
    another institution's fixmedins_code selects nothing."""
    data = inp.child("data")
    page = read_page(data, required=True, size_max=visit_attributes.ROWS_MAX)
    text = {name: data.text(name, required=False, max_len=length) for name, length in (
        ("ipt_psn_sp_flag_detl_id", 40), ("mdtrt_id", 30), ("psn_no", 30),
        ("psn_cert_type", 6), ("certno", 50), ("psn_name", 50), ("fixmedins_code", 30),
        ("fixmedins_name", 200), ("ipt_otp_no", 30), ("ipt_psn_sp_flag_type", 6),
        ("ipt_psn_sp_flag", 6), ("admdvs", 6))}
    if text["fixmedins_code"] not in ("", call.institution.code):
        found: tuple[list[Any], int] = ([], 0)
    else:
        found = visit_attributes.listed(call, AttributeFilter(
            detl_id=text["ipt_psn_sp_flag_detl_id"], mdtrt_id=text["mdtrt_id"],
            psn_no=text["psn_no"], cert_type=text["psn_cert_type"], certno=text["certno"],
            name=text["psn_name"], ipt_otp_no=text["ipt_otp_no"],
            flag_type=text["ipt_psn_sp_flag_type"], flag=text["ipt_psn_sp_flag"],
            admdvs=text["admdvs"]), page)
    return paged_answer(found, page, _row, node="IptPsnSpFlagReg")


def _row(r: Any) -> dict[str, Any]:
    return {
        "ipt_psn_sp_flag_detl_id": r["detl_id"], "mdtrt_id": r["mdtrt_id"],
        "psn_no": r["psn_no"], "psn_cert_type": r["psn_cert_type"], "certno": r["certno"],
        "psn_name": r["psn_name"], "fixmedins_code": r["fixmedins_code"],
        "fixmedins_name": r["fixmedins_name"], "ipt_otp_no": r["ipt_otp_no"],
        "ipt_psn_sp_flag_type": r["flag_type"], "ipt_psn_sp_flag": r["flag"],
        "admdvs": r["admdvs"], "memo": r["memo"],
    }
