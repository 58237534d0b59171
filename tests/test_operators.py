"""Operators attacked, on both databases: one operator submitting, reviewing and approving
a claim; the approver exporting its payment; a large amount approved by one approver;
expired, revoked, rotated-away and bare tokens; a role without the right; the operators'
log written with each change and absent when the change was refused; formulas in the
bank file; the ``yibao operators`` command."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import func, select, update
from typer.testing import CliRunner

from calls import command_call
from conftest import (
    ADMIN,
    APPROVER,
    APPROVER2,
    AUDITOR,
    CLERK,
    FINANCE,
    REVIEWER,
    bearer,
)
from flows import SIGNED
from test_errors import snapshot, unchanged
from test_reimbursement import PAYEE, bill, psn
from yibao.cli import app as cli
from yibao.services import operators
from yibao.store.db import Database
from yibao.store.schema import (
    claim,
    institution,
    operator_action,
    operator_credential,
    payment_order,
)
from yibao.store.schema import settlement as settlement_table

SMALL = ("1", "XA01AAA0001", "2000.00")  # the fund pays 140.00
LARGE = ("1", "XA01AAA0001", "10000.00")  # (10000 - 1800) x 70 % = 5740.00 > 5000.00


def make_operator(db, clock, name: str, *roles: str, days: int = 90) -> dict[str, str]:
    with db.write() as conn:
        issued = operators.create(command_call(conn, clock), name, list(roles), days=days)
    return bearer(issued.token)


def submit(http, psn_no: str, invono: str, line=SMALL, headers=CLERK, payee=PAYEE) -> str:
    reply = http.post("/admin/v1/claims", headers=headers, json={
        "psn_no": psn_no, "reason": "no_credential", "payee": payee,
        "bill": bill(invono, line)})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["claim_id"])


def review(http, claim_id: str, headers=REVIEWER) -> None:
    reply = http.post(f"/admin/v1/claims/{claim_id}/review", headers=headers)
    assert reply.status_code == 200, reply.text


def decide(http, claim_id: str, headers=APPROVER, **body):
    return http.post(f"/admin/v1/claims/{claim_id}/decision", headers=headers,
                     json={"approve": True, **body})


def actions(db, what: str = "") -> list[dict]:
    query = select(operator_action).order_by(operator_action.c.id)
    if what:
        query = query.where(operator_action.c.action == what)
    with db.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def claim_row(db, claim_id: str) -> dict:
    with db.read() as conn:
        return dict(conn.execute(select(claim).where(claim.c.claim_id == claim_id))
                    .mappings().one())


def count(db, table) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def denied(reply, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text
    assert reply.json()["code"] == code, reply.text
    return str(reply.json()["detail"])


# ---------------------------------------------------------------- separation of duties


def test_one_operator_cannot_submit_review_and_approve_the_same_claim(db, http, his, clock):
    everything = make_operator(db, clock, "all-in-one", "clerk", "reviewer", "approver")
    claim_id = submit(http, psn(his), "INV-SOD1", headers=everything)
    review(http, claim_id, headers=everything)
    with unchanged(db):
        message = denied(decide(http, claim_id, headers=everything), 403, "E-ADM-004")
    assert "all-in-one submitted this claim" in message
    assert claim_row(db, claim_id)["status"] == "under_review"
    assert count(db, payment_order) == 0 and actions(db, "claim.approved") == []


def test_the_reviewer_cannot_approve_what_they_reviewed(db, http, his, clock):
    both = make_operator(db, clock, "reviews-and-approves", "reviewer", "approver")
    claim_id = submit(http, psn(his), "INV-SOD2")
    review(http, claim_id, headers=both)
    with unchanged(db):
        assert "reviews-and-approves reviewed" in denied(
            decide(http, claim_id, headers=both), 403, "E-ADM-004")
    approved = decide(http, claim_id)  # another approver may
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    [step] = [s for s in approved.json()["steps"] if s["status"] == "approved"]
    assert step["actor"] == "approver"
    [row] = actions(db, "claim.approved")
    assert (row["actor"], row["role"], row["subject"]) == ("approver", "approver", claim_id)
    assert json.loads(row["detail"]) == {"amount": 14000, "excluded": []}


def test_the_approver_cannot_export_the_payment_they_approved(db, http, his, clock):
    approver_in_finance = make_operator(db, clock, "approves-and-pays", "approver", "finance")
    claim_id = submit(http, psn(his), "INV-SOD3")
    review(http, claim_id)
    assert decide(http, claim_id, headers=approver_in_finance).status_code == 200
    with unchanged(db):
        message = denied(http.post("/admin/v1/payments/export", headers=approver_in_finance),
                         403, "E-ADM-005")
    assert claim_id in message
    with db.read() as conn:
        order = conn.execute(select(payment_order)).mappings().one()
    assert order["status"] == "pending" and order["exported_by"] is None
    exported = http.post("/admin/v1/payments/export", headers=FINANCE)
    assert exported.status_code == 200 and claim_id in exported.text
    order_id = exported.text.splitlines()[1].split(",")[1]
    paid = http.post(f"/admin/v1/payments/{order_id}/result", json={"paid": True},
                     headers=FINANCE)
    assert paid.json()["status"] == "paid"
    with db.read() as conn:
        order = conn.execute(select(payment_order)).mappings().one()
    assert (order["exported_by"], order["result_by"]) == ("finance", "finance")
    assert [(a["action"], a["actor"]) for a in actions(db)][-2:] == [
        ("payments.export", "finance"), ("payment.result", "finance")]


def test_above_the_limit_a_second_different_approver_is_required(db, http, his):
    claim_id = submit(http, psn(his), "INV-BIG", line=LARGE)
    review(http, claim_id)
    settlements = count(db, settlement_table)
    first = decide(http, claim_id, reason="lists checked")
    assert first.status_code == 200, first.text
    shown = first.json()
    assert shown["status"] == "under_review" and shown["approved_amount"] == 0
    assert shown["steps"][-1]["status"] == "first_approved"
    assert "5740.00 yuan is above 5000.00" in shown["steps"][-1]["reason"]
    # nothing paid, nothing settled yet
    assert count(db, payment_order) == 0 and count(db, settlement_table) == settlements
    assert claim_row(db, claim_id)["setl_id"] is None
    with unchanged(db):  # the same approver twice is not two approvers
        assert "a second, different approver" in denied(
            decide(http, claim_id), 403, "E-ADM-004")
    with unchanged(db):  # the second approver confirms; lines are left out at the first
        denied(decide(http, claim_id, headers=APPROVER2,
                      excluded_lines={"1": "not prescribed"}), 400, "E-CLM-006")
    second = decide(http, claim_id, headers=APPROVER2)
    assert second.status_code == 200, second.text
    assert (second.json()["status"], second.json()["approved_amount"]) == ("approved", 574000)
    assert [(s["status"], s["actor"]) for s in second.json()["steps"]][-2:] == [
        ("first_approved", "approver"), ("approved", "approver2")]
    assert count(db, payment_order) == 1
    assert [a["actor"] for a in actions(db) if a["subject"] == claim_id][-2:] == [
        "approver", "approver2"]
    assert [a["action"] for a in actions(db) if a["subject"] == claim_id][-2:] == [
        "claim.first_approved", "claim.approved"]
    # neither the first nor the second approver exports it
    for approver in ("approver", "approver2"):
        headers = _finance_too(db, approver)
        with unchanged(db):
            denied(http.post("/admin/v1/payments/export", headers=headers), 403, "E-ADM-005")


def _finance_too(db, name: str) -> dict[str, str]:
    """The demo operator ``name`` given the finance role as well."""
    from yibao.store.schema import operator as operator_table

    with db.write() as conn:
        conn.execute(operator_table.update().where(operator_table.c.name == name)
                     .values(roles="approver,finance"))
    return bearer(f"demo-{name}")


def test_a_small_amount_needs_one_approver_and_the_limit_is_a_setting(db, http, his, clock):
    from fastapi.testclient import TestClient

    from yibao.api.app import create_app

    claim_id = submit(http, psn(his), "INV-SMALL")
    review(http, claim_id)
    assert decide(http, claim_id).json()["status"] == "approved"  # 140.00: one approver
    strict = create_app(db, clock=clock, second_approval_above=10_000)  # 100.00 yuan
    with TestClient(strict) as other:
        again = submit(other, psn(his), "INV-SMALL2")
        review(other, again)
        assert decide(other, again).json()["steps"][-1]["status"] == "first_approved"
        assert decide(other, again, headers=APPROVER2).json()["status"] == "approved"


# ---------------------------------------------------------------- credentials


def test_expired_revoked_rotated_away_and_bare_tokens_are_refused(db, http, his, clock):
    short = make_operator(db, clock, "short-lived", "clerk", days=1)
    psn_no = psn(his)
    body = {"psn_no": psn_no, "reason": "no_credential", "payee": PAYEE,
            "bill": bill("INV-TOK", SMALL)}
    bare = {"authorization": short["authorization"].removeprefix("Bearer ")}
    for headers in ({}, bare, {"authorization": "Basic " + bare["authorization"]},
                    {"authorization": "Bearer "}, bearer("demo-nobody"),
                    {"authorization": "Bearer " + "x" * 300}):
        with unchanged(db):
            reply = http.post("/admin/v1/claims", headers=headers, json=body)
            denied(reply, 401, "E-ADM-002")
            assert reply.headers["www-authenticate"] == "Bearer"
    clock.now += timedelta(days=1)
    with unchanged(db):
        denied(http.post("/admin/v1/claims", headers=short, json=body), 401, "E-ADM-002")
    clock.now -= timedelta(days=1)

    rotated_away = dict(short)
    with db.write() as conn:
        fresh = bearer(operators.rotate(command_call(conn, clock), "short-lived").token)
    with unchanged(db):
        denied(http.post("/admin/v1/claims", headers=rotated_away, json=body), 401,
               "E-ADM-002")
    assert http.post("/admin/v1/claims", headers=fresh, json=body).status_code == 201
    with db.write() as conn:
        assert operators.revoke(command_call(conn, clock), "short-lived") == 1
    with unchanged(db):
        denied(http.post("/admin/v1/claims", headers=fresh,
                         json=dict(body, bill=bill("INV-TOK2", SMALL))), 401, "E-ADM-002")
    with db.read() as conn:
        rows = conn.execute(select(operator_credential).where(
            operator_credential.c.operator == "short-lived")).mappings().all()
    assert [r["rotated_from"] for r in rows] == [None, rows[0]["id"]]
    stored = json.dumps([dict(r) for r in rows], default=str)
    assert fresh["authorization"].split()[1] not in stored  # only the hash is kept


def test_a_role_without_the_right_is_refused_and_changes_nothing(db, http, his):
    psn_no = psn(his)
    body = {"psn_no": psn_no, "reason": "no_credential", "payee": PAYEE,
            "bill": bill("INV-ROLE", SMALL)}
    with unchanged(db):
        assert "needs the role clerk" in denied(
            http.post("/admin/v1/claims", headers=AUDITOR, json=body), 403, "E-ADM-003")
        denied(http.post("/admin/v1/payments/export", headers=CLERK), 403, "E-ADM-003")
        denied(http.put("/admin/v1/institutions/H11010500003/prepay", headers=FINANCE,
                        json={"enabled": True}), 403, "E-ADM-003")
        denied(http.post("/admin/v1/cards/BJ0000000001/loss", headers=ADMIN), 403,
               "E-ADM-003")
        denied(http.get("/admin/v1/audit", headers=CLERK), 403, "E-ADM-003")
    claim_id = submit(http, psn_no, "INV-ROLE2")
    with unchanged(db):  # a reviewer rejects but does not approve
        assert "needs the role approver" in denied(
            decide(http, claim_id, headers=REVIEWER), 403, "E-ADM-003")
    assert http.get(f"/admin/v1/claims/{claim_id}", headers=AUDITOR).status_code == 200


# ---------------------------------------------------------------- the operators' log


def test_every_money_moving_or_configuration_action_is_logged_with_the_change(db, http, his):
    psn_no = psn(his)
    claim_id = submit(http, psn_no, "INV-LOG")
    review(http, claim_id)
    decide(http, claim_id)
    order_id = http.post("/admin/v1/payments/export",
                         headers=FINANCE).text.splitlines()[1].split(",")[1]
    http.post(f"/admin/v1/payments/{order_id}/result", json={"paid": False, "error": "x"},
              headers=FINANCE)
    assert http.post(f"/admin/v1/payments/{order_id}/retry", headers=FINANCE).status_code == 200
    assert http.put("/admin/v1/institutions/H11010500003/networked", headers=ADMIN,
                    json={"enabled": True}).status_code == 200
    fault = http.post("/admin/v1/institutions/H11010500002/faults", headers=ADMIN, json={
        "begin_at": "2026-05-11T08:00:00", "end_at": "2026-05-11T09:00:00",
        "reason": "link down"}).json()["fault_id"]
    http.post(f"/admin/v1/faults/{fault}/cancel", headers=ADMIN, json={"reason": "wrong"})
    made = http.post(f"/admin/v1/persons/{psn_no}/suspensions", headers=ADMIN, json={
        "begin_date": "2026-05-11", "end_date": "2026-05-12", "reason": "lent the card"})
    http.delete(f"/admin/v1/suspensions/{made.json()['id']}", headers=ADMIN)
    http.post("/admin/v1/cards/BJ0000000002/loss", headers=CLERK)
    http.post("/admin/v1/filings", headers=CLERK, json={
        "psn_no": psn_no, "filing_type": "temporary", **SIGNED, "area": "130102",
        "end_date": "2026-06-30"})
    logged = [(a["action"], a["actor"], a["role"]) for a in actions(db)]
    assert logged == [
        ("claim.apply", "clerk", "clerk"), ("claim.review", "reviewer", "reviewer"),
        ("claim.approved", "approver", "approver"),
        ("payments.export", "finance", "finance"), ("payment.result", "finance", "finance"),
        ("payment.retry", "finance", "finance"),
        ("institution.networked", "admin", "administrator"),
        ("fault.declare", "admin", "administrator"),
        ("fault.cancel", "admin", "administrator"),
        ("suspension.create", "admin", "administrator"),
        ("suspension.lift", "admin", "administrator"),
        ("card.loss", "clerk", "clerk"), ("filing.register", "clerk", "clerk")]
    text = json.dumps([a["detail"] for a in actions(db)], ensure_ascii=False)
    assert PAYEE["bank_account"] not in text and "lent the card" not in text
    # refused changes leave no row
    before = len(actions(db))
    denied(http.post(f"/admin/v1/payments/{order_id}/result", json={"paid": True},
                     headers=FINANCE), 409, "E-CLM-004")  # pending again, not exported
    denied(http.put("/admin/v1/institutions/NOPE/prepay", headers=ADMIN,
                    json={"enabled": True}), 404, "E-ADM-001")
    assert len(actions(db)) == before
    with db.read() as conn:
        assert conn.execute(select(institution.c.networked).where(
            institution.c.fixmedins_code == "H11010500003")).scalar_one() is True


def test_the_auditor_reads_the_log_page_by_page(db, http, his):
    psn_no = psn(his)
    for n in range(3):
        submit(http, psn_no, f"INV-PAGE{n}")
    first = http.get("/admin/v1/audit", params={"limit": 2}, headers=AUDITOR).json()
    assert [r["action"] for r in first] == ["claim.apply", "claim.apply"]
    rest = http.get("/admin/v1/audit", params={"limit": 2, "before": first[-1]["id"]},
                    headers=AUDITOR).json()
    assert len(rest) == 1 and rest[0]["id"] < first[-1]["id"]
    assert rest[0]["detail"] == {"psn_no": psn_no}
    mine = http.get("/admin/v1/audit", params={"actor": "clerk"}, headers=ADMIN).json()
    assert len(mine) == 3
    assert http.get("/admin/v1/audit", params={"limit": 501},
                    headers=AUDITOR).status_code == 422
    with unchanged(db):  # the auditor reads only
        denied(http.post(f"/admin/v1/claims/{first[0]['subject']}/review", headers=AUDITOR),
               403, "E-ADM-003")


# ---------------------------------------------------------------- the bank file


FORMULAS = ["=HYPERLINK(\"http://x\",\"pay\")", "+1+1", "-2+3", "@SUM(A1)", " =1+1",
            "\t=1"]


def test_a_bank_name_that_starts_a_formula_is_refused_at_the_window(db, http, his):
    psn_no = psn(his)
    with unchanged(db):
        for n, name in enumerate(FORMULAS):
            reply = http.post("/admin/v1/claims", headers=CLERK, json={
                "psn_no": psn_no, "reason": "no_credential",
                "payee": dict(PAYEE, bank_name=name), "bill": bill(f"INV-F{n}", SMALL)})
            assert (reply.status_code, reply.json()["code"]) == (400, "E-CLM-006"), name


def test_bank_file_cells_that_start_a_formula_are_neutralised(db, http, his):
    """Rows stored before names were checked at input still export harmlessly."""
    psn_no = psn(his)
    names = [*FORMULAS[:4], "Bank of China"]
    for n, name in enumerate(names):
        claim_id = submit(http, psn_no, f"INV-CSV{n}")
        review(http, claim_id)
        assert decide(http, claim_id).status_code == 200
        with db.write() as conn:  # as an older version stored it
            conn.execute(update(payment_order).where(payment_order.c.claim_id == claim_id)
                         .values(bank_name=name))
    exported = http.post("/admin/v1/payments/export", headers=FINANCE).text
    rows = list(csv.reader(io.StringIO(exported)))[1:]
    assert sorted(r[3] for r in rows) == sorted(
        ["'=HYPERLINK(\"http://x\",\"pay\")", "'+1+1", "'-2+3", "'@SUM(A1)", "Bank of China"])
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


# ---------------------------------------------------------------- the command


def test_the_operators_command_creates_lists_rotates_and_revokes(tmp_path):
    url = str(tmp_path / "ops.db")
    runner = CliRunner()
    made = runner.invoke(cli, ["operators", "create", "wang.clerk", "--role", "clerk",
                               "--role", "reviewer", "--days", "30", "--db", url])
    assert made.exit_code == 2  # no database yet: said in one line, nothing created
    assert made.stderr == f"no database at {url}; create it with `yibao migrate --db {url}`\n"
    assert not (tmp_path / "ops.db").exists()
    Database(url).migrate()
    made = runner.invoke(cli, ["operators", "create", "wang.clerk", "--role", "clerk",
                               "--role", "reviewer", "--days", "30", "--db", url])
    assert made.exit_code == 0, made.output
    token = made.output.split("store it now): ")[1].split()[0]
    assert token.startswith("yb_") and len(token) > 40
    taken = runner.invoke(cli, ["operators", "create", "wang.clerk", "--role", "clerk",
                                "--db", url])
    assert taken.exit_code == 1 and "E-ADM-006" in taken.output
    bad_role = runner.invoke(cli, ["operators", "create", "li", "--role", "root", "--db", url])
    assert bad_role.exit_code == 1
    listed = runner.invoke(cli, ["operators", "list", "--db", url])
    assert "wang.clerk" in listed.output and "clerk,reviewer" in listed.output
    assert token not in listed.output
    database = Database(url)
    assert operators.authenticate(database, f"Bearer {token}",
                                  _now()).roles == {"clerk", "reviewer"}
    rotated = runner.invoke(cli, ["operators", "rotate", "wang.clerk", "--db", url])
    new_token = rotated.output.split("store it now): ")[1].split()[0]
    assert new_token != token
    revoked = runner.invoke(cli, ["operators", "revoke", "wang.clerk", "--db", url])
    assert "1 token(s) of wang.clerk revoked" in revoked.output
    for old in (token, new_token):
        try:
            operators.authenticate(database, f"Bearer {old}", _now())
        except Exception as refusal:
            assert getattr(refusal, "code", "") == "E-ADM-002"
        else:
            raise AssertionError("a revoked or rotated-away token still works")
    database.dispose()


def _now():
    from yibao.services.context import china_now

    return china_now()


def test_demo_tokens_are_stored_hashed_like_any_other(db):
    everything = json.dumps(snapshot(db), ensure_ascii=False)
    assert "demo-approver" not in everything and "demo-admin" not in everything
