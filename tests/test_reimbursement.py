"""Manual reimbursement end to end, on both databases: a fault period declared and its
bill uploaded by the HIS, applications from the app and from the window (paper lists),
review (approval, partial approval, rejection), duplicates, the year-to-date ordering,
a real-time settlement while a claim is under review, and the bank payment."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from apps import ChannelApp
from calls import window_call
from concurrency import run_threads
from conftest import APPROVER, AUDITOR, CLERK, FINANCE, REVIEWER
from flows import (
    SIGNED,
    WANG_FANG,
    ZHAO_LEI,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)
from yibao.api.claim_models import BillIn, bill_of
from yibao.domain.errors import Refused
from yibao.services import applications
from yibao.services.claims import Payee
from yibao.store import demo
from yibao.store.schema import claim, ledger_entry, settlement

PAYEE = {"bank_name": "中国工商银行北京分行", "bank_account": "6222020200001234567",
         "account_name": "王芳"}


def bill(invono: str, *lines: tuple[str, str, str], code: str = "H11010500001",
         begin: str = "2026-04-20T10:00:00") -> dict:
    return {"fixmedins_code": code, "insutype": "310", "med_type": "11", "begntime": begin,
            "invono": invono, "diagnoses": [{"diag_code": "J18.900", "diag_name": "肺炎"}],
            "lines": [{"feedetl_sn": sn, "med_list_codg": item, "cnt": "1", "pric": amount,
                       "det_item_fee_sumamt": amount} for sn, item, amount in lines]}


def holder_of(psn_no: str) -> str:
    """The demo person's name: the account holder a window's payee names."""
    return next(name for i, (name, _, _, _, place, *_) in enumerate(demo.PERSONS, 1)
                if demo.psn_no_of(i, place) == psn_no)


def window_apply(http, psn_no: str, **body) -> dict:
    payee = dict(PAYEE, account_name=holder_of(psn_no))
    reply = http.post("/admin/v1/claims", json={"psn_no": psn_no, "reason": "no_credential",
                                                  "payee": payee, **body}, headers=CLERK)
    return {"status": reply.status_code, **reply.json()}


def review_and_decide(http, claim_id: str, **decision) -> dict:
    assert http.post(f"/admin/v1/claims/{claim_id}/review", headers=REVIEWER).status_code == 200
    reply = http.post(f"/admin/v1/claims/{claim_id}/decision",
                      json={"approve": True, **decision}, headers=APPROVER)
    assert reply.status_code == 200, reply.text
    return reply.json()


def cum(his, psn_no: str, month: str = "202605") -> dict[str, Decimal]:
    rows = ok(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": month}}))["cuminfo"]
    return {r["cum_type_code"]: Decimal(str(r["cum"])) for r in rows}


def psn(his, certno: str = WANG_FANG) -> str:
    return str(person(his, certno)["baseinfo"]["psn_no"])


def declare_fault(his, begin: str = "2026-05-11 08:00:00",
                  end: str = "2026-05-11 09:00:00") -> str:
    """A 2902 fault period of the caller; its fault_id."""
    answer = his.call("2902", {"data": {"begntime": begin, "endtime": end, "memo": "专线中断"}})
    return str(ok(answer)["result"]["fault_id"])


def fault_bill(his, psn_no: str, invono: str, amount: str, at: str, *,
               med_type: str = "11") -> dict:
    return his.call("2901", fault_bill_input(psn_no, invono, amount, at, med_type=med_type))


def fault_bill_input(psn_no: str, invono: str, amount: str, at: str, *,
                     med_type: str = "11") -> dict:
    """The input of a 2901: one 甲 line of ``amount`` at ``at``."""
    return {
        "billinfo": {"psn_no": psn_no, "insutype": "310", "med_type": med_type,
                     "begntime": at, "invono": invono},
        "feedetail": [{"feedetl_sn": "1", "med_list_codg": "XA01AAA0001",
                       "medins_list_codg": "HIS-1", "det_item_fee_sumamt": amount, "cnt": "1",
                       "pric": amount, "fee_ocur_time": at}],
        "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J18.900",
                      "diag_name": "肺炎"}]}


def test_fault_period_bill_uploaded_by_the_hospital_then_applied_for_in_the_app(
    db, http, his
):
    psn_no = psn(his)
    refused(fault_bill(his, psn_no, "INV-1", "2000.00", "2026-05-11 08:30:00"), "E-CLM-005")
    declare_fault(his)
    overlapping = his.call("2902", {"data": {"begntime": "2026-05-11 08:59:00",
                                             "endtime": "2026-05-11 09:20:00", "memo": "again"}})
    assert "overlaps fault period" in refused(overlapping, "E-CLM-006")
    later = his.call("2902", {"data": {"begntime": "2026-05-11 09:31:00",  # now is 09:30
                                       "endtime": "2026-05-11 10:00:00", "memo": "planned"}})
    assert "cannot begin after now" in refused(later, "E-CLM-006")
    uploaded = ok(fault_bill(his, psn_no, "INV-1", "2000.00", "2026-05-11 08:30:00"))
    assert uploaded["result"]["status"] == "eligible"

    app = ChannelApp(http)
    cert_id = app.activate()
    app.register_payee(cert_id)  # an app's claims pay only to it
    reply = app.post(f"/channel/v1/certificates/{cert_id}/claims", {
        "pin": "135790", "reason": "fault", "payee": PAYEE,
        "fixmedins_code": "H11010500001", "invono": "INV-1"})
    assert reply.status_code == 201, reply.text
    claim_id = reply.json()["claim_id"]
    assert claim_id == uploaded["result"]["claim_id"]
    decided = review_and_decide(http, claim_id)
    # the same as a real-time settlement that day: deductible 1800, tier 3 at 70 %
    assert decided["status"] == "approved" and decided["approved_amount"] == 14000
    seen = app.post(f"/channel/v1/certificates/{cert_id}/claims/list", {"pin": "135790"})
    [mine] = seen.json()
    assert [s["status"] for s in mine["steps"]] == [
        "eligible", "submitted", "under_review", "approved"]
    assert mine["bank_account"] == "****4567" and mine["steps"][-1]["actor"] == "approver"


def test_window_application_with_paper_lists_partly_approved(db, http, his):
    psn_no = psn(his)
    applied = window_apply(http, psn_no, bill=bill(
        "INV-2", ("1", "XA01AAA0001", "2500.00"), ("2", "XB02BBB0002", "300.00")))
    assert applied["status"] == 201
    decided = review_and_decide(http, applied["claim_id"],
                                excluded_lines={"2": "not on the prescription"})
    assert decided["status"] == "partly_approved"
    assert decided["approved_amount"] == 49000  # (2500 - 1800) x 70 %
    assert [x["status"] for x in decided["lines"]] == ["active", "excluded"]
    assert "2: not on the prescription" in decided["steps"][-1]["reason"]


def test_rejection_needs_reasons_and_the_invoice_may_then_be_applied_for_again(db, http, his):
    psn_no = psn(his)
    first = window_apply(http, psn_no, bill=bill("INV-3", ("1", "XA01AAA0001", "100.00")))
    claim_id = first["claim_id"]
    assert http.post(f"/admin/v1/claims/{claim_id}/review", headers=REVIEWER).status_code == 200
    empty = http.post(f"/admin/v1/claims/{claim_id}/decision",
                      json={"approve": False, "reason": " "}, headers=APPROVER)
    assert empty.status_code == 400 and empty.json()["code"] == "E-CLM-006"
    rejected = http.post(f"/admin/v1/claims/{claim_id}/decision",
                         json={"approve": False, "reason": "invoice unreadable"}, headers=APPROVER)
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["steps"][-1]["reason"] == "invoice unreadable"
    again = window_apply(http, psn_no, bill=bill("INV-3", ("1", "XA01AAA0001", "100.00")))
    assert again["status"] == 201 and again["claim_id"] != claim_id


def test_duplicates_are_refused(db, http, his):
    psn_no = psn(his)
    window_apply(http, psn_no, bill=bill("INV-4", ("1", "XA01AAA0001", "100.00")))
    twice = window_apply(http, psn_no, bill=bill("INV-4", ("1", "XA01AAA0001", "100.00")))
    assert twice["status"] == 409 and twice["code"] == "E-CLM-002"

    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "100.00")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "100.00")
    payload["data"]["invono"] = "INV-5"
    ok(his.call("2207", payload))
    settled = window_apply(http, psn_no, bill=bill("INV-5", ("1", "XA01AAA0001", "100.00")))
    assert settled["status"] == 409 and settled["code"] == "E-CLM-003"


def test_an_older_visit_reimbursed_later_never_uses_the_deductible_twice(db, http, his):
    psn_no = psn(his)
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "3000.00")])
    realtime = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "3000.00",
                                                  account=False)))["setlinfo"]
    assert Decimal(str(realtime["act_pay_dedc"])) == 1800
    # an April visit, applied for in May after the May settlement used the deductible
    older = window_apply(http, psn_no, bill=bill("INV-6", ("1", "XA01AAA0001", "1000.00")))
    decided = review_and_decide(http, older["claim_id"])
    assert decided["approved_amount"] == 70000  # 1000 x 70 %, no deductible again
    history = cum(his, psn_no)
    assert history["D.emp_otp"] == 1800 and history["B.emp_otp"] == 4000


def test_a_reimbursement_first_is_seen_by_the_next_real_time_settlement(db, http, his):
    psn_no = psn(his)
    claim = window_apply(http, psn_no, bill=bill("INV-7", ("1", "XA01AAA0001", "1000.00")))
    assert review_and_decide(http, claim["claim_id"])["approved_amount"] == 0
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "3000.00")])
    setl = ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "3000.00",
                                              account=False)))["setlinfo"]
    assert Decimal(str(setl["act_pay_dedc"])) == 800  # 1000 of 1800 met by the claim
    assert Decimal(str(setl["fund_pay_sumamt"])) == Decimal("1540.00")


def test_real_time_settlement_works_while_a_claim_is_under_review(db, http, his):
    psn_no = psn(his)
    claim = window_apply(http, psn_no, bill=bill("INV-8", ("1", "XA01AAA0001", "100.00")))
    assert http.post(f"/admin/v1/claims/{claim['claim_id']}/review",
                     headers=REVIEWER).json()["status"] == "under_review"
    by_card = {"mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001",
               "card_sn": "SN0000000001"}
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "50.00")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "50.00")
    payload["data"].update(by_card)
    assert ok(his.call("2207", payload))["setlinfo"]["setl_id"]


def test_payment_order_bank_file_failure_retry_and_paid(db, http, his):
    psn_no = psn(his)
    claim = window_apply(http, psn_no, bill=bill("INV-9", ("1", "XA01AAA0001", "2000.00")))
    review_and_decide(http, claim["claim_id"])
    first = http.post("/admin/v1/payments/export", headers=FINANCE).text.splitlines()
    assert len(first) == 2 and first[1].endswith(",6222020200001234567,140.00")
    order_id = first[1].split(",")[1]
    failed = http.post(f"/admin/v1/payments/{order_id}/result",
                       json={"paid": False, "error": "account frozen"}, headers=FINANCE)
    assert failed.json()["status"] == "failed"
    assert http.post("/admin/v1/payments/export", headers=FINANCE).text.count("\n") == 1
    assert http.post(f"/admin/v1/payments/{order_id}/retry", headers=FINANCE).status_code == 200
    second = http.post("/admin/v1/payments/export", headers=FINANCE).text.splitlines()
    assert second[1].split(",")[1] == order_id and second[1].split(",")[0] != first[1][:20]
    paid = http.post(f"/admin/v1/payments/{order_id}/result", json={"paid": True},
                     headers=FINANCE)
    assert paid.json()["status"] == "paid"
    shown = http.get(f"/admin/v1/claims/{claim['claim_id']}", headers=AUDITOR).json()
    assert shown["status"] == "paid" and "paid by bank batch" in shown["steps"][-1]["reason"]
    twice = http.post(f"/admin/v1/payments/{order_id}/result", json={"paid": True},
                      headers=FINANCE)
    assert twice.status_code == 409 and twice.json()["code"] == "E-CLM-004"


def test_care_away_filed_after_discharge_is_reimbursed_by_the_insured_places_policy(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    clock.now = datetime(2026, 5, 11, 9, 30)
    filed = http.post("/admin/v1/filings", json={
        "psn_no": psn_no, "filing_type": "temporary", **SIGNED, "area": "110000",
        "end_date": "2026-06-30"}, headers=CLERK).json()["trt_dcla_detl_sn"]
    claim = window_apply(http, psn_no, reason="after_discharge",
                         trt_dcla_detl_sn=filed,
                         bill=bill("INV-10", ("1", "XA01AAA0001", "1800.00")))
    decided = review_and_decide(http, claim["claim_id"])
    # Hebei policy: deductible 800, 60 % less 20 points (other temporary trip)
    assert decided["approved_amount"] == 40000
    with db.read() as conn:
        row = conn.execute(select(settlement).where(
            settlement.c.setl_id == decided["setl_id"])).mappings().one()
    assert (row["kind"], row["policy_id"], row["away_basis"]) == (
        "claim", "130102-310-2024", "temporary")
    assert row["setl_time"] == datetime(2026, 4, 20, 10, 0)  # computed as of the care
    with db.read() as conn:  # and booked in the fund ledger when it was approved
        booked = set(conn.execute(select(ledger_entry.c.at).where(
            ledger_entry.c.txn == f"setl:{row['setl_id']}")).scalars())
    assert booked == {clock.now}
    hidden = beijing.call("5203", {"data": {"psn_no": psn_no, "setl_id": row["setl_id"],
                                            "mdtrt_id": row["mdtrt_id"]}})
    refused(hidden, "E-SETL-002")  # the hospital's queries show its own settlements only
    cancel = http.post(f"/admin/v1/filings/{filed}/cancellation",
                       json={"psn_no": psn_no, "reason": "moved back"}, headers=CLERK)
    assert cancel.status_code == 409 and cancel.json()["code"] == "E-FIL-009"  # claim uses it


def test_emergency_care_away_is_reimbursed_as_an_emergency_not_as_unfiled_care(
    db, http, his_factory, clock
):
    """As in real time, emergency care away from home rests on the emergency with no
    filing: Hebei cuts 10 points for it, 20 for other temporary trips."""
    beijing = his_factory("H11010500001")
    psn_no = psn(beijing, ZHAO_LEI)
    emergency = dict(bill("INV-E1", ("1", "XA01AAA0001", "1800.00")), med_type="13")
    decided = review_and_decide(http, window_apply(http, psn_no, reason="other",
                                                   bill=emergency)["claim_id"])
    assert decided["approved_amount"] == 50000  # (1800 - 800) x (60 % - 10 points)
    declare_fault(beijing)
    flagged = fault_bill_input(psn_no, "INV-E2", "1000.00", "2026-05-11 08:30:00")
    flagged["billinfo"]["exp_content"] = {"OTP_ER_REFL_FLAG": "1"}  # 急诊, med_type 11
    claim_id = ok(beijing.call("2901", flagged))["result"]["claim_id"]
    assert window_apply(http, psn_no, reason="fault", fixmedins_code="H11010500001",
                        invono="INV-E2")["status"] == 201
    assert review_and_decide(http, claim_id)["approved_amount"] == 50000  # 1000 x 50 %
    typed = dict(bill("INV-E3", ("1", "XA01AAA0001", "1000.00")), emergency=True)
    assert review_and_decide(http, window_apply(http, psn_no, reason="other", bill=typed)[
        "claim_id"])["approved_amount"] == 50000
    with db.read() as conn:
        bases = list(conn.execute(select(settlement.c.away_basis, settlement.c.trt_dcla_detl_sn)
                                  .order_by(settlement.c.setl_time)))
    assert bases == [("emergency", None)] * 3


def test_the_same_invoice_applied_for_twice_at_once_makes_one_claim(db, his, clock):
    psn_no = psn(his)
    application = bill_of(psn_no, BillIn(**bill("INV-11", ("1", "XA01AAA0001", "10.00"))))
    payee = Payee("银行", "6222020200001234567")

    def apply_once() -> str:
        try:
            with db.write() as conn:
                return applications.submit(window_call(conn, clock), application,
                                           reason="other", payee=payee)
        except Refused as refusal:
            return refusal.code

    answers = run_threads(apply_once, [()] * 2)
    assert sorted(a[:9] for a in answers) == ["E-CLM-002", "R20260511"]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(claim)).scalar_one() == 1


def test_a_wrong_method_names_every_method_of_the_path(http):
    reply = http.request("DELETE", "/admin/v1/claims", headers=CLERK)
    assert reply.status_code == 405 and reply.headers["allow"] == "GET, POST"


def test_the_bank_file_is_csv_whatever_the_bank_name(db, http, his):
    psn_no = psn(his)
    payee = {"bank_name": "Bank of Beijing, Xicheng branch", "bank_account": "6222020200009876",
             "account_name": "王芳"}
    claim = http.post("/admin/v1/claims", headers=CLERK, json={
        "psn_no": psn_no, "reason": "other", "payee": payee,
        "bill": bill("INV-12", ("1", "XA01AAA0001", "2000.00"))}).json()
    review_and_decide(http, claim["claim_id"])
    exported = http.post("/admin/v1/payments/export", headers=FINANCE).text
    [header, row] = list(csv.reader(io.StringIO(exported)))
    assert header[3:] == ["bank_name", "bank_account", "amount_yuan"]
    assert row[3:] == ["Bank of Beijing, Xicheng branch", "6222020200009876", "140.00"]


def test_care_in_the_future_or_ending_before_it_begins_is_refused_everywhere(db, http, his):
    """A bill dated next January would be settled against next year's fresh deductible."""
    psn_no = psn(his)
    future = bill("INV-13", ("1", "XA01AAA0001", "2000.00"), begin="2027-01-05T10:00:00")
    backwards = dict(bill("INV-14", ("1", "XA01AAA0001", "2000.00")),
                     endtime="2026-04-19T10:00:00")  # the day before begntime
    ends_later = dict(bill("INV-15", ("1", "XA01AAA0001", "2000.00")),
                      endtime="2026-05-11T09:30:01")  # one second after now
    line_later = bill("INV-17", ("1", "XA01AAA0001", "2000.00"))
    line_later["lines"][0]["fee_ocur_time"] = "2026-12-01T10:00:00"  # picks next catalogue
    at_window = [window_apply(http, psn_no, bill=b)
                 for b in (future, backwards, ends_later, line_later)]
    assert [(a["status"], a["code"]) for a in at_window] == [
        (400, "E-CLM-007"), (400, "E-CLM-008"), (400, "E-CLM-007"), (400, "E-CLM-007")]
    assert "2027-01-05 10:00:00" in at_window[0]["detail"]

    app = ChannelApp(http)
    cert_id = app.activate()
    app.register_payee(cert_id)  # an app's claims pay only to it
    by_app = [app.post(f"/channel/v1/certificates/{cert_id}/claims", {
        "pin": "135790", "reason": "other", "payee": PAYEE, "bill": b}).json()["code"]
        for b in (future, backwards)]
    assert by_app == ["E-CLM-007", "E-CLM-008"]

    declare_fault(his, "2026-05-11 09:00:00", "2026-05-12 09:00:00")
    refused(fault_bill(his, psn_no, "INV-16", "100.00", "2026-05-11 10:00:00"), "E-CLM-007")
    assert http.get("/admin/v1/claims", headers=AUDITOR).json() == []
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(claim)).scalar_one() == 0
    now = dict(bill("INV-17", ("1", "XA01AAA0001", "100.00"), begin="2026-05-11T01:30:00Z"),
               endtime="2026-05-11T09:30:00+08:00")  # now, sent with offsets
    assert window_apply(http, psn_no, bill=now)["status"] == 201


def test_an_invoice_claimed_and_settled_in_real_time_at_once_is_paid_once(db, app, his, clock):
    """The claim and the 2207 naming the same invoice race; the person's lock orders them,
    so exactly one of them takes the invoice, in every round."""
    psn_no = psn(his)
    for round_ in range(4):
        answers = race_claim_and_settlement(db, app, his, clock, psn_no, f"INV-RACE-{round_}")
        assert answers in (["E-CLM-002", "R"], ["E-CLM-003", "S"]), answers


def race_claim_and_settlement(db, app, his, clock, psn_no: str, invono: str) -> list[str]:
    """A window application and a 2207 of one invoice at the same moment: 'R' for a claim,
    'S' for a settlement, else the refusal's code."""
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "30.00")])
    payload = settle_payload(psn_no, mdtrt_id, WANG_FANG, "30.00")
    payload["data"]["invono"] = invono
    message = json.dumps(his.envelope("2207", payload)).encode()
    headers = his.headers()
    application = bill_of(psn_no, BillIn(**bill(invono, ("1", "XA01AAA0001", "30.00"))))
    payee = Payee("银行", "6222020200001234567")

    def claim_it() -> str:
        try:
            with db.write() as conn:
                return applications.submit(window_call(conn, clock), application,
                                           reason="other", payee=payee)[:1]
        except Refused as refusal:
            return refusal.code

    def settle_it() -> str:
        answer = app.state.hospital.handle(headers, message)
        return "S" if answer["infcode"] == 0 else answer["err_msg"][:9]

    return sorted(run_threads(lambda work: work(), [(claim_it,), (settle_it,)]))


def test_a_bank_account_must_be_ascii_digits(db, http, his):
    """The account goes into the bank file as it is: fullwidth or Arabic-Indic digits
    would name no account at the bank."""
    psn_no = psn(his)
    for account in ("６２２２０２０２００００１２３４５６７", "٦٢٢٢٠٢٠٢٠٠٠٠١٢٣٤٥٦٧"):
        odd = window_apply(http, psn_no, bill=bill("INV-BANK", ("1", "XA01AAA0001", "10.00")),
                           payee={"bank_name": "银行", "bank_account": account,
                                  "account_name": "王芳"})
        assert odd["status"] == 400 and odd["code"] == "E-CLM-006", odd
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(claim)).scalar_one() == 0
