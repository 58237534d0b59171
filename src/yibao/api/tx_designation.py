"""Designated institutions over the interface (docs/designation.md): 2505 人员定点备案
(biz_appy_type 03 就医定点医疗机构登记), 2506 its cancellation, 5302 人员定点信息查询."""

from __future__ import annotations

from datetime import date
from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.domain.designation import BIZ_APPY_TYPE
from yibao.services import designation, institutions
from yibao.services.context import Call
from yibao.services.persons import get_person

BIZ_APPY_TYPES = {BIZ_APPY_TYPE: "就医定点医疗机构登记"}  # the one type yibao records here
FIX_SRT_NO_DIGITS_MAX = 3


def register(call: Call, inp: Fields) -> Answer:
    """2505: the person's designation of ``fixmedins_code`` as number ``fix_srt_no`` from
    ``begndate``; a number already taken changes that designation from that day."""
    data = inp.child("data")
    data.code("biz_appy_type", BIZ_APPY_TYPES)
    data.text("fixmedins_name", max_len=200)
    done = designation.choose(call, designation.NewDesignation(
        psn_no=data.text("psn_no", max_len=30),
        institution=data.text("fixmedins_code", max_len=12),
        begin=data.day("begndate"), end=data.day("enddate", required=False),
        order=data.whole("fix_srt_no", max_len=FIX_SRT_NO_DIGITS_MAX),
        memo=data.text("memo", required=False, max_len=500),
    ), change_taken=True)
    return Answer({"result": {"trt_dcla_detl_sn": done.value, "exp_content": ""}},
                  done.effect)


def cancel(call: Call, inp: Fields) -> Answer:
    """2506: cancel a designation this institution registered (it stops counting today)."""
    data = inp.child("data")
    return Answer({}, designation.cancel(
        call, data.text("trt_dcla_detl_sn", max_len=30), data.text("psn_no", max_len=30),
        data.text("memo", max_len=500), own_only=True))


def _day(day: date | None) -> str:
    return "" if day is None else f"{day:%Y-%m-%d}"


def designations(call: Call, inp: Fields) -> dict[str, Any]:
    """5302: the person's designations that count today or later (``psnfixmedin``)."""
    data = inp.child("data")
    psn_no = data.text("psn_no", max_len=30)
    wanted = data.text("biz_appy_type", max_len=3)
    get_person(call.conn, psn_no)
    if wanted != BIZ_APPY_TYPE:
        return {"psnfixmedin": []}
    rows = designation.current(call.conn, psn_no, call.now.date())
    names = institutions.names(call.conn, {r.institution for r in rows})
    return {"psnfixmedin": [
        {"psn_no": r.psn_no, "insutype": r.insutype, "fix_srt_no": str(r.order),
         "fixmedins_code": r.institution, "fixmedins_name": names.get(r.institution, ""),
         "begndate": _day(r.begin), "enddate": _day(r.end), "memo": r.memo}
        for r in rows]}
