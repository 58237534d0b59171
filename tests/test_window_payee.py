"""A claim applied for at the window pays an account in the person's own name; an account
other than the person's registered payee is recorded, shown to every operator who looks at
the claim, and paid only when each approver confirms it (issue 13 review)."""

from __future__ import annotations

from sqlalchemy import func, select

from apps import ChannelApp
from conftest import APPROVER, APPROVER2, AUDITOR, CLERK, REVIEWER
from test_errors import unchanged
from test_operators import LARGE, SMALL
from test_reimbursement import PAYEE, bill, psn
from yibao.store.schema import claim, claim_step, payment_order

ELSEWHERE = {"bank_name": "某银行", "bank_account": "6222999900001111", "account_name": "王芳"}


def _apply(http, psn_no: str, invono: str, payee: dict):
    return http.post("/admin/v1/claims", headers=CLERK, json={
        "psn_no": psn_no, "reason": "no_credential", "payee": payee,
        "bill": bill(invono, SMALL)})


def _count(db, table, *where) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def test_a_window_claim_pays_only_an_account_in_the_persons_name(db, http, his):
    psn_no = psn(his)
    with unchanged(db):
        stranger = _apply(http, psn_no, "INV-W1", dict(ELSEWHERE, account_name="李四"))
        assert (stranger.status_code, stranger.json()["code"]) == (400, "E-ECT-014")
        unnamed = {k: v for k, v in ELSEWHERE.items() if k != "account_name"}
        assert _apply(http, psn_no, "INV-W1", unnamed).status_code == 422
        formula = dict(ELSEWHERE, bank_name="=HYPERLINK(\"x\")")
        assert _apply(http, psn_no, "INV-W1", formula).json()["code"] == "E-CLM-006"
    made = _apply(http, psn_no, "INV-W1", dict(ELSEWHERE, account_name=" 王芳 "))
    assert made.status_code == 201
    seen = http.get(f"/admin/v1/claims/{made.json()['claim_id']}", headers=AUDITOR).json()
    # nothing registered: nothing to differ from
    assert seen["payee"]["change"] == "window"
    assert seen["payee"]["differs_from_registered"] is False
    assert seen["payee"]["registered"] is None


def _decide(http, claim_id: str, **decision):
    return http.post(f"/admin/v1/claims/{claim_id}/decision", headers=APPROVER,
                     json={"approve": True, **decision})


def test_a_window_account_other_than_the_registered_payee_is_flagged_and_confirmed(
        db, http, his):
    """Observed: the window paid any account; the operators saw only change: window."""
    app = ChannelApp(http)
    app.register_payee(app.activate())  # PAYEE, in her name, with a real-person check
    psn_no = psn(his)
    same = _apply(http, psn_no, "INV-W2", dict(PAYEE, account_name="王芳")).json()["claim_id"]
    other = _apply(http, psn_no, "INV-W3", ELSEWHERE).json()["claim_id"]

    same_view = http.get(f"/admin/v1/claims/{same}", headers=AUDITOR).json()["payee"]
    assert same_view["differs_from_registered"] is False
    view = http.get(f"/admin/v1/claims/{other}", headers=AUDITOR).json()["payee"]
    assert (view["change"], view["bank_account"], view["differs_from_registered"]) == (
        "window", "****1111", True)
    assert (view["registered"]["bank_account"], view["registered"]["set_by"]) == (
        "****4567", "CH-BJAPP")

    assert http.post(f"/admin/v1/claims/{other}/review", headers=REVIEWER).status_code == 200
    with unchanged(db):
        unconfirmed = _decide(http, other)
        assert (unconfirmed.status_code, unconfirmed.json()["code"]) == (409, "E-ADM-007")
    assert _count(db, payment_order) == 0
    confirmed = _decide(http, other, payee_confirmed=True)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "approved"
    with db.read() as conn:
        order = conn.execute(select(payment_order.c.bank_account)).scalar_one()
        step = conn.execute(select(claim_step.c.reason).where(
            claim_step.c.claim_id == other, claim_step.c.status == "approved")).scalar_one()
        recorded = conn.execute(select(claim.c.registered_payee_id).where(
            claim.c.claim_id == other)).scalar_one()
    assert order == "6222999900001111" and recorded is not None
    assert "****1111 (not the registered one) confirmed" in step

    # the registered account needs no confirmation
    assert http.post(f"/admin/v1/claims/{same}/review", headers=REVIEWER).status_code == 200
    assert _decide(http, same).status_code == 200


def test_each_of_two_approvers_confirms_a_window_account_other_than_the_registered(
        db, http, his):
    app = ChannelApp(http)
    app.register_payee(app.activate())
    claim_id = http.post("/admin/v1/claims", headers=CLERK, json={
        "psn_no": psn(his), "reason": "no_credential", "payee": ELSEWHERE,
        "bill": bill("INV-W4", LARGE)}).json()["claim_id"]
    assert http.post(f"/admin/v1/claims/{claim_id}/review", headers=REVIEWER).status_code == 200
    first = _decide(http, claim_id, payee_confirmed=True)
    assert first.json()["steps"][-1]["status"] == "first_approved"
    with unchanged(db):
        second = http.post(f"/admin/v1/claims/{claim_id}/decision", headers=APPROVER2,
                           json={"approve": True})
        assert (second.status_code, second.json()["code"]) == (409, "E-ADM-007")
    second = http.post(f"/admin/v1/claims/{claim_id}/decision", headers=APPROVER2,
                       json={"approve": True, "payee_confirmed": True})
    assert second.status_code == 200 and second.json()["status"] == "approved"
    assert _count(db, payment_order) == 1
