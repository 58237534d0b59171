"""yibao extensions of the interface for manual reimbursement (not in the national
standard, numbered where it has nothing): 2902 declares a fault period of the caller,
2901 uploads a bill paid in full during one, with its fee details, so that the person
need not bring paper lists. See docs/reimbursement.md."""

from __future__ import annotations

from yibao.api.fields import Fields
from yibao.api.registry import Answer
from yibao.api.tx_fees import read_line
from yibao.api.tx_visits import read_diagnoses, read_inpatient_flags, read_outpatient_flags
from yibao.domain.claims import ClaimStatus
from yibao.domain.codes import INSUTYPES, MED_TYPES, VisitClass, visit_class_of
from yibao.domain.errors import Refused
from yibao.services import bills, faults
from yibao.services.context import Call


def declare_fault(call: Call, inp: Fields) -> Answer:
    data = inp.child("data")
    begin, end = data.moment("begntime"), data.moment("endtime")
    assert begin is not None and end is not None
    done = faults.declare(call, call.institution.code, begin, end,
                          data.text("memo", max_len=300))
    return Answer({"result": {"fault_id": done.value}}, done.effect)


def fault_bill(call: Call, inp: Fields) -> Answer:
    info = inp.child("billinfo")
    items = inp.list_of("feedetail")
    if not items:
        raise Refused("E-ENV-004", "input.feedetail is empty")
    begin = info.moment("begntime")
    assert begin is not None
    med_type = info.code("med_type", MED_TYPES)
    inpatient = visit_class_of(med_type) is VisitClass.INPATIENT
    bill = bills.Bill(
        psn_no=info.text("psn_no", max_len=30), insutype=info.code("insutype", INSUTYPES),
        med_type=med_type, fixmedins_code=call.institution.code,
        begin=begin, end=info.moment("endtime", required=False),
        invono=info.text("invono", max_len=50),
        lines=tuple(read_line(item, refunds=False) for item in items),
        diagnoses=read_diagnoses(inp),
        flags=read_inpatient_flags(info) if inpatient else read_outpatient_flags(info),
    )
    done = bills.upload(call, bill)
    return Answer({"result": {"claim_id": done.value, "status": ClaimStatus.ELIGIBLE.value}},
                  done.effect)
