"""Reconciliation and clearing over the interface: 3201 totals, 3202 detail (files via
9101/9102), 3203/3204 clearing application and its withdrawal."""

from __future__ import annotations

from typing import Any

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.domain.codes import INSUTYPES
from yibao.services import clearing, reconciliation
from yibao.services.context import Call

CLR_TYPES = frozenset({"11", "21", "41"})


def _scope(data: Fields, *, insutype: str = "") -> reconciliation.Scope:
    begin, end = data.day("stmt_begndate"), data.day("stmt_enddate")
    assert begin is not None and end is not None
    return reconciliation.Scope(
        clr_type=data.code("clr_type", CLR_TYPES), begin=begin, end=end,
        with_refunds=data.flag("fixmedins_refd_setl_flag", default="1") == "1",
        insutype=insutype)


def _money(data: Fields, name: str, *, negative: bool = True) -> int:
    """An amount (3201's totals are net of refunds and may be negative; a 3203 application
    asks for money and may not: the database refuses a negative one too)."""
    value = data.money(name, negative=negative)
    assert value is not None
    return value


def _applied(data: Fields, name: str) -> int:
    return _money(data, name, negative=False)


def totals(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    scope = _scope(data, insutype=data.code("insutype", INSUTYPES))
    his = reconciliation.Totals(_money(data, "medfee_sumamt"), _money(data, "fund_pay_sumamt"),
                                _money(data, "acct_pay"), data.whole("fixmedins_setl_cnt"))
    result, description = reconciliation.totals(call, scope, his)
    return {"stmtinfo": {"setl_optins": data.text("setl_optins", max_len=6),
                         "stmt_rslt": result, "stmt_rslt_dscr": description}}


def detail(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    done = reconciliation.detail(call, _scope(data), data.text("file_qury_no", max_len=60))
    found = done.value
    return Answer({"fileinfo": {
        "file_qury_no": found["file_qury_no"], "filename": found["filename"],
        "dld_endtime": found["dld_endtime"].strftime("%Y-%m-%d %H:%M:%S"),
    }}, done.effect)


def file_application(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    done = clearing.file_application(call, clearing.Application(
        setlym=data.digits("setlym", max_len=6, length=6),
        clr_type=data.code("clr_type", CLR_TYPES), psntime=data.whole("psntime", max_len=6),
        medfee_sumamt=_applied(data, "medfee_sumamt"),
        fund_appy_sum=_applied(data, "fund_appy_sum"), acct_pay=_applied(data, "acct_pay"),
        cash_payamt=_applied(data, "cash_payamt")))
    return Answer({"result": {"clr_appy_evt_id": done.value}}, done.effect)


def withdraw(call: Call, inp: Fields) -> dict[str, Any]:
    data = inp.child("data")
    clearing.withdraw(call, data.text("clr_appy_evt_id", max_len=30))
    return {}
