"""Invariants kept by the database, not only by Python (issue 13).

- Every CHECK constraint of store/schema.py refuses a bad row written directly with SQL
  (INSERT, and UPDATE of a good row) on both databases, naming itself; the good rows pass;
  the migrated database holds every constraint the schema declares.
- On PostgreSQL a deferred constraint trigger refuses, at commit, a transaction that
  leaves a ledger posting not summing to zero (SQLite: skipped, with the reason).
- A database error caused by the input is never reported as a concurrency collision:
  2203 without ``diseinfo`` is refused at once with E-ENV-004 naming the field; a row
  the database refuses is E-SYS-002 and not retried; only serialization failures,
  deadlocks and SQLite's busy lock are collisions, retried once and then E-SYS-001.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, delete, func, insert, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from flows import WANG_FANG, ok, person, refused, register, settle_once
from yibao.api import tx_visits
from yibao.domain import states
from yibao.services import visits
from yibao.store.db import Database, Failure, classify, constraint_of
from yibao.store.demo import seed_demo
from yibao.store.schema import (
    CHECKS,
    SETTLEMENT_AMOUNTS,
    account,
    check_name,
    diagnosis,
    institution,
    ledger_entry,
    message,
    metadata,
    operator,
    visit,
)


def _visit(his) -> tuple[str, str]:
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    return psn_no, register(his, psn_no, WANG_FANG)


def _visit_info(mdtrt_id: str, psn_no: str, **extra: Any) -> dict[str, Any]:
    return {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11"}, **extra}


def _state(db) -> tuple[int, int, str]:
    """Diagnoses and answered messages stored, and the one visit's medical type."""
    with db.read() as conn:
        return (conn.execute(select(func.count()).select_from(diagnosis)).scalar_one(),
                conn.execute(select(func.count()).select_from(message)).scalar_one(),
                conn.execute(select(visit.c.med_type)).scalar_one())


DIAGNOSIS = {"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900",
             "diag_name": "急性上呼吸道感染"}


@pytest.mark.parametrize("extra", [{}, {"diseinfo": []}, {"diseinfo": ""}],
                         ids=["absent", "empty-list", "empty-text"])
def test_2203_without_diagnoses_is_an_input_error_at_once_and_changes_nothing(
        db, his, extra):
    psn_no, mdtrt_id = _visit(his)
    before = _state(db)
    payload = _visit_info(mdtrt_id, psn_no, **extra)
    payload["mdtrtinfo"]["med_type"] = "14"
    message_text = refused(his.call("2203", payload), "E-ENV-004")
    assert "input.diseinfo" in message_text
    assert _state(db) == before


def test_2203_with_a_diagnosis_still_answers(db, his):
    psn_no, mdtrt_id = _visit(his)
    ok(his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS])))
    assert _state(db)[0] == 1


def _count_calls(monkeypatch, target, name: str, replacement) -> list[int]:
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return replacement(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


def test_a_row_the_database_refuses_is_e_sys_002_at_once_never_a_collision(
        db, his, monkeypatch):
    """The old path of the 2203 bug (one row of defaults: NOT NULL violated) written on
    purpose: answered E-SYS-002 after one attempt, nothing stored."""
    psn_no, mdtrt_id = _visit(his)
    before = _state(db)

    def bad_row(ctx, *_args: Any, **_kwargs: Any) -> None:
        ctx.conn.execute(insert(diagnosis), {"mdtrt_id": mdtrt_id, "psn_no": psn_no})

    calls = _count_calls(monkeypatch, visits, "replace_diagnoses", bad_row)
    answer = his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS]))
    refused(answer, "E-SYS-002")
    assert len(calls) == 1
    assert _state(db) == before


def _fake_sqlite_error(name: str, kind: type[sqlite3.Error]) -> sqlite3.Error:
    error = kind(name)
    error.sqlite_errorname = name
    return error


def _busy() -> OperationalError:
    return OperationalError("COMMIT", {}, _fake_sqlite_error("SQLITE_BUSY",
                                                             sqlite3.OperationalError))


def test_a_collision_is_retried_once_then_answered(db, his, monkeypatch):
    psn_no, mdtrt_id = _visit(his)
    real = tx_visits.visits.record_visit_info
    failures = [_busy()]

    def collide_once(*args: Any) -> None:
        if failures:
            raise failures.pop()
        real(*args)

    calls = _count_calls(monkeypatch, tx_visits.visits, "record_visit_info", collide_once)
    ok(his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS])))
    assert len(calls) == 2
    assert _state(db)[0] == 1


def test_a_collision_on_every_attempt_is_e_sys_001_and_changes_nothing(db, his, monkeypatch):
    psn_no, mdtrt_id = _visit(his)
    before = _state(db)

    def collide(*_args: Any) -> None:
        raise _busy()

    calls = _count_calls(monkeypatch, tx_visits.visits, "record_visit_info", collide)
    refused(his.call("2203", _visit_info(mdtrt_id, psn_no, diseinfo=[DIAGNOSIS])),
            "E-SYS-001")
    assert len(calls) == 2
    assert _state(db) == before


def _error_of(db, statement, params: dict[str, Any]) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, db.write() as conn:
        conn.execute(statement, params)
    return caught.value


def test_classify_real_errors_of_both_databases(db):
    missing = _error_of(db, insert(diagnosis), {"mdtrt_id": "M1", "psn_no": "P1"})
    assert isinstance(missing, IntegrityError)
    assert classify(missing) is Failure.BROKEN
    with db.read() as conn:
        row = dict(conn.execute(select(institution).limit(1)).mappings().one())
    duplicate = _error_of(db, insert(institution), row)
    assert classify(duplicate) is Failure.DUPLICATE


class _PgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("orig", "failure"), [
    (_PgError("40001"), Failure.COLLISION),  # serialization failure
    (_PgError("40P01"), Failure.COLLISION),  # deadlock
    (_PgError("23505"), Failure.DUPLICATE),
    (_PgError("23502"), Failure.BROKEN),  # not null
    (_PgError("23514"), Failure.BROKEN),  # check
    (_PgError("22003"), Failure.INPUT),  # numeric value out of range: the input
    (_PgError("08006"), Failure.UNAVAILABLE),  # connection failure
    (_PgError("57P01"), Failure.UNAVAILABLE),  # admin shutdown
    (_PgError(None), Failure.UNAVAILABLE),  # no server answer
    (_fake_sqlite_error("SQLITE_BUSY", sqlite3.OperationalError), Failure.COLLISION),
    (_fake_sqlite_error("SQLITE_LOCKED", sqlite3.OperationalError), Failure.COLLISION),
    (_fake_sqlite_error("SQLITE_CONSTRAINT_UNIQUE", sqlite3.IntegrityError),
     Failure.DUPLICATE),
    (_fake_sqlite_error("SQLITE_CONSTRAINT_NOTNULL", sqlite3.IntegrityError), Failure.BROKEN),
    (_fake_sqlite_error("SQLITE_CONSTRAINT_CHECK", sqlite3.IntegrityError), Failure.BROKEN),
    (_fake_sqlite_error("SQLITE_ERROR", sqlite3.OperationalError), Failure.BROKEN),
    (_fake_sqlite_error("SQLITE_IOERR", sqlite3.OperationalError), Failure.UNAVAILABLE),
])
def test_classify_by_sqlstate_and_sqlite_result_code(orig, failure):
    assert classify(DBAPIError("SELECT 1", {}, orig)) is failure


# ---------------------------------------------------------------- CHECK constraints
#
# One row of each constrained table that the constraints accept (parents first), written
# with plain SQL; then each bad variant of it, written the same way, must be refused by
# the database itself, naming its constraint, and leave nothing behind.

AT = datetime(2026, 5, 11, 9, 30)
PSN = "P-INVARIANT"
ZERO_SETTLEMENT = dict.fromkeys(SETTLEMENT_AMOUNTS, 0)


def _good_rows() -> dict[str, dict[str, Any]]:
    person_row = dict(psn_no=PSN, psn_cert_type="01", certno="X-INVARIANT", name="测试",
                      gend="1", naty="01", brdy=date(1990, 1, 1), insuplc_admdvs="110000")
    settle = dict(
        ZERO_SETTLEMENT, setl_id="S-INV", psn_no=PSN, mdtrt_id="M-INV",
        fixmedins_code="H11010500001", kind="settle", insutype="310", psn_type="1101",
        med_type="11", seq=1, setl_time=AT, year=2026, policy_id="p", clr_type="11",
        msgid="m", pool_prop_selfpay="0.9000", mdtrt_cert_type="02",
        medfee_sumamt=10_000, hifp_pay=6_000, fund_pay_sumamt=6_000, psn_part_amt=4_000,
        acct_pay=1_000, psn_cash_pay=3_000, balc=2_000)
    return {
        "channel": dict(channel_id=CHANNEL, name="n", secret="s", scopes="own_data,claims",
                        sandbox=True, webhook_url="https://app.example/hooks"),
        "institution": dict(fixmedins_code="H-INV", name="n", kind="hospital", level=1,
                            admdvs="110105", pool_area="110000", token="t"),
        "person": person_row,
        "insurance": dict(psn_no=PSN, insutype="310", psn_type="1101", psn_insu_stas="1",
                          psn_insu_date=date(2000, 1, 1)),
        "account": dict(psn_no=PSN, balance=100),
        "card": dict(card_no="C-INV", card_sn="SN-INV", psn_no=PSN, status="valid"),
        "ecert": dict(cert_id="E-INV", psn_no=PSN, channel_id=CHANNEL, status="active",
                      pin_hash="h", created_at=AT),
        "family_binding": dict(binding_id="B-INV", cert_id="E-INV", relative_psn_no=PSN,
                               relation="self", consent_method="m", status="active",
                               created_at=AT),
        "visit": dict(mdtrt_id="M-INV", psn_no=PSN, fixmedins_code="H11010500001",
                      insutype="310", med_type="11", visit_class="outpatient", status="open",
                      begntime=AT, ipt_otp_no="O", mdtrt_cert_type="02",
                      insuplc_admdvs="110000", mdtrtarea_admvs="110000", msgid="m"),
        "fee_line": dict(psn_no=PSN, mdtrt_id="M-INV", feedetl_sn="1", chrg_bchno="B",
                         med_list_codg="X", medins_list_codg="X", cnt="1", pric="100.00",
                         det_item_fee_sumamt=10_000, fulamt_ownpay_amt=1_000,
                         overlmt_amt=1_000, preselfpay_amt=1_000, inscp_scp_amt=7_000,
                         chrgitm_lv="02", selfpay_prop="0.1", status="active", msgid="m"),
        "settlement": settle,
        "settlement_cancel": dict(
            settle, **{name: -value for name, value in settle.items()
                       if name in SETTLEMENT_AMOUNTS and name != "balc"},
            setl_id="C-INV", kind="cancel", reverses="S-INV"),
        "account_entry": dict(setl_id="S-INV", psn_no=PSN, amount=-1_000, balance_after=2_000,
                              created_at=AT),
        "filing": dict(trt_dcla_detl_sn="F-INV", psn_no=PSN, kind="area",
                       filing_type="temporary", insutype="310", insuplc_admdvs="110000",
                       mdtrtarea_admdvs="130100", begin_at=AT, status="active", source="01",
                       actor="a"),
        "designation": dict(trt_dcla_detl_sn="D-INV", psn_no=PSN, insutype="310",
                            fix_srt_no=1, fixmedins_code="H-INV", begin_date=date(2026, 1, 1),
                            status="active", source="04", actor="a", entry="channel",
                            created_at=AT),
        "outbox": dict(id="O-INV", kind="cost", psn_no=PSN, payload="{}", status="pending",
                       next_attempt_at=AT, created_at=AT),
        "claim": dict(claim_id="R-INV", psn_no=PSN, mdtrt_id="M-INV",
                      fixmedins_code="H11010500001", invono="I-INV", insutype="310",
                      med_type="11", reason="fault", status="approved", source="01",
                      medfee_sumamt=10_000, approved_amount=6_000, created_at=AT,
                      updated_at=AT),
        "claim_step": dict(claim_id="R-INV", status="approved", actor="a", at=AT),
        "payment_order": dict(order_id="PAY-INV", claim_id="R-INV", psn_no=PSN, amount=6_000,
                              bank_name="b", bank_account="1", status="pending",
                              created_at=AT, updated_at=AT),
        "ledger_entry": dict(txn="t:INV", kind="payout", account="cash:110000", amount=5,
                             at=AT),
        "clearing_month": dict(month="2026-04", status="open", runs=1, settlements=0,
                               run_at=AT, run_by="a"),
        "prepayment": dict(month="2026-06", fixmedins_code="H11010500001", amount=1_000,
                           basis="b", created_at=AT, actor="a"),
        "clearing_region": dict(month="2026-04", insured="130102", treatment="110000",
                                amount=1_000, settlements=1, cancellations=0,
                                advance_before=5_000, drawn=1_000),
        "clearing_institution": dict(month="2026-04", fixmedins_code="H11010500001",
                                     region="110000", settlements=1, cancellations=0,
                                     recovered=100),
        "region_advance": dict(advance_id="ADV-INV", insured="130102", treatment="110000",
                               amount=5_000, note="n", created_at=AT, actor="a"),
        "advance_interest": dict(month="2026-04", insured="130102", treatment="110000",
                                 balance_days=150_000, rate="0.0035", day_count=360,
                                 amount=1),
        "prepayment_proposal": dict(proposal_id=900_001, fixmedins_code="H11010500001",
                                    amount=1_000, reason="r", status="approved",
                                    month="2026-06", proposed_by="f", proposed_at=AT,
                                    decided_by="a", decided_at=AT),
        "clearing_application": dict(clr_appy_evt_id="A-INV", fixmedins_code="H11010500001",
                                     setlym="202604", clr_type="11", psntime=1,
                                     medfee_sumamt=100, fund_appy_sum=50, acct_pay=0,
                                     cash_payamt=50, status="applied", created_at=AT),
        "attestation": dict(id=900_001, psn_no=PSN, channel_id=CHANNEL, purpose="payee",
                            method="face_liveness", evidence_ref="REF-INV-0001",
                            attested_at=AT, recorded_at=AT),
        "payee_account": dict(id=900_001, psn_no=PSN, bank_name="b", bank_account="62220001",
                              channel_id=CHANNEL, attestation_id=900_001, set_at=AT),
        "operator": dict(name="op-inv", roles="approver,clerk", status="active",
                         created_at=AT),
        "ec_token": dict(token_hash="T-INV", psn_no=PSN, cert_id="E-INV",
                         fixmedins_code="H11010500001", business_type="01101", issued_at=AT,
                         expires_at=AT),
        "stored_file": dict(file_qury_no="Q-INV", fixmedins_code="H11010500001",
                            filename="f.zip", content=b"x", created_at=AT, kind="upload",
                            dld_endtime=AT),
        "online_order": dict(pay_ord_id="O-INV", pay_token_hash="h", acct_used=True,
                             fixmedins_code="H11010500001",
                             med_org_ord="M-INV", request_hash="r", psn_no=PSN,
                             insutype="310", mdtrt_id="V-INV", chrg_bchno="1", med_type="11",
                             status="held", created_at=AT, expires_at=AT, held_at=AT,
                             medfee_sumamt=100,
                             fund_pay=60, acct_pay=30, cash_pay=10),
        "online_refund": dict(refd_sn="R-INV", pay_ord_id="O-INV", app_refd_sn="A-INV",
                              request_hash="r", refd_type="ALL", fund_refd=60, acct_refd=30,
                              cash_refd=10, status="SUCC", created_at=AT),
        "channel_request": dict(channel_id=CHANNEL, idem_key="K-INV", request_hash="h",
                                status=201, body="{}", created_at=AT),
        "practitioner": dict(fixmedins_code="H11010500001", prac_code="D-INV", role="doctor",
                             name="n"),
        "prescription": dict(hi_rxno="RX-INV", rx_trace_code="T-INV",
                             fixmedins_code="H11010500001", hosp_rxno="H-INV",
                             request_hash="r", psn_no=PSN, mdtrt_id="V-INV", dr_code="D-INV",
                             prsc_time=AT, vali_end=AT, status="uploaded", content="{}",
                             content_digest="d", created_at=AT, updated_at=AT),
        "rx_auth": dict(auth_rxno="RA-INV", hi_rxno="RX-INV", fixmedins_code="P11010500001",
                        batch="B-INV", epc_token_hash="E-INV", via="7201", issued_at=AT,
                        expires_at=AT),
        "rx_code": dict(code_hash="C-INV", kind="qr", hi_rxno="RX-INV", psn_no=PSN,
                        channel_id=CHANNEL, expires_at=AT),
        "psn_no_change": dict(old_psn_no="OLD-INV", new_psn_no=PSN, kind="merge",
                              actor="admin", at=AT, acct_moved=100),
        "contribution_period": dict(period_id="CP-INV", psn_no=PSN, insutype="310",
                                    status="arrears", begin_date=date(2026, 3, 1),
                                    decision="operator", actor="clerk", recorded_at=AT),
        "deferral": dict(deferral_id="DF-INV", insutype="310", begin_date=date(2026, 2, 1),
                         until_date=date(2026, 6, 30), reason="r", actor="admin",
                         decided_at=AT),
        "declared_period": dict(declared_id="DP-INV", area="110000", title="t",
                                begin_date=date(2026, 6, 1), until_date=date(2026, 7, 31),
                                actor="admin", declared_at=AT),
        "institution_disease_service": dict(
            fixmedins_code="H11010500001", opsp_dise_code="D-INV", opened_from=AT,
            opened_by="a", opened_at=AT),
        "catalogue_item": dict(region="110000", code="C-INV", name="n", list_type="201",
                               chrgitm_lv="01", selfpay_ratio="0", valid_from=date(2026, 1, 1),
                               ver="v", lmt_gend="2", lmt_age_min=18, lmt_age_max=60,
                               lmt_course_days=7, lmt_visit_times=1),
        "supervision_run": dict(run_id="SR-INV", month="2026-04", engine="duckdb",
                                rules="SV01", lines=10, clues=1, operator="a",
                                started_at=AT, finished_at=AT),
        "clue": dict(clue_id="CL-INV", run_id="SR-INV", rule_id="SV01", clue_key="k",
                     month="2026-04", amount_at_risk=100, summary="s", evidence="[]",
                     status="open", created_at=AT),
        "review_warning": dict(jr_id="JR-INV", stage="1", fixmedins_code="H11010500001",
                               psn_no="P", mdtrt_id="M", rule_id="SV07", amount=100,
                               msgid="m", created_at=AT, dspo_way="1", dspo_way_rea="why",
                               fed_back_at=AT),
        # issue 20: supervision cases (domain/supervision_case.py)
        "supervision_case": dict(case_id="CS-INV", status="investigating",
                                 fixmedins_code="H11010500001", amount_at_risk=100, clues=1,
                                 assigned_to="a", opened_by="a", opened_at=AT),
        "case_file": dict(file_id="CF-INV", case_id="CS-INV", filename="f.txt", size=1,
                          content=b"x", added_by="a", added_at=AT),
        "case_event": dict(case_id="CS-INV", kind="evidence", actor="a", role="reviewer",
                           at=AT, detail="d", file_id="CF-INV"),
        "case_verification": dict(verification_id="VF-INV", case_id="CS-INV",
                                  from_region="110000", to_region="130102", question="q",
                                  status="asked", asked_by="a", asked_at=AT),
        "case_conclusion": dict(case_id="CS-INV", outcomes="recovery,fine",
                                fixmedins_code="H11010500001", region="110000",
                                recovery=100, fine=50, suspend_months=3,
                                concluded_by="c", concluded_at=AT),
    }


CHANNEL = "CH-INV"
# (constraint, the row it is tried on, what makes the row bad)
BAD: list[tuple[str, str, dict[str, Any]]] = [
    ("ck_institution_kind", "institution", {"kind": "bank"}),
    ("ck_insurance_status", "insurance", {"psn_insu_stas": "9"}),
    ("ck_insurance_insutype", "insurance", {"insutype": "999"}),
    ("ck_account_balance", "account", {"balance": -1}),
    ("ck_account_entry_balance_after", "account_entry", {"balance_after": -1}),
    ("ck_card_status", "card", {"status": "stolen"}),
    ("ck_ecert_status", "ecert", {"status": "locked"}),
    ("ck_ecert_pin_failures", "ecert", {"pin_failures": -1}),
    ("ck_family_binding_status", "family_binding", {"status": "gone"}),
    ("ck_visit_status", "visit", {"status": "closed"}),
    ("ck_visit_class", "visit", {"visit_class": "daycare"}),
    ("ck_visit_insutype", "visit", {"insutype": ""}),
    ("ck_visit_med_type", "visit", {"med_type": "99"}),
    ("ck_fee_line_status", "fee_line", {"status": "deleted"}),
    ("ck_fee_line_parts", "fee_line", {"inscp_scp_amt": 7_001}),
    # a negative line that names no line it refunds
    ("ck_fee_line_signs", "fee_line", {"det_item_fee_sumamt": -10_000, "cnt": "-1",
                                       "fulamt_ownpay_amt": -1_000, "overlmt_amt": -1_000,
                                       "preselfpay_amt": -1_000, "inscp_scp_amt": -7_000}),
    ("ck_settlement_kind", "settlement", {"kind": "refund"}),
    ("ck_settlement_insutype", "settlement", {"insutype": "000"}),
    # a settle row that claims to reverse another, a cancel row that reverses nothing
    ("ck_settlement_reverses", "settlement", {"reverses": "S-OTHER"}),
    ("ck_settlement_reverses", "settlement_cancel", {"reverses": None}),
    # the fund paying a negative amount and the person the difference: parts still add up
    ("ck_settlement_signs", "settlement", {"hifp_pay": -1_000, "fund_pay_sumamt": -1_000,
                                           "psn_part_amt": 11_000, "psn_cash_pay": 10_000}),
    # a cancellation with positive amounts (not the negation of what it reverses)
    ("ck_settlement_signs", "settlement_cancel", {
        name: -value for name, value in _good_rows()["settlement_cancel"].items()
        if name in SETTLEMENT_AMOUNTS and name != "balc"}),
    ("ck_settlement_parts", "settlement", {"psn_cash_pay": 2_999}),
    ("ck_settlement_parts", "settlement", {"hifp_pay": 5_000}),
    ("ck_settlement_balc", "settlement", {"balc": -1}),
    ("ck_filing_status", "filing", {"status": "expired"}),
    ("ck_filing_kind", "filing", {"kind": "other"}),
    ("ck_filing_insutype", "filing", {"insutype": "31"}),
    ("ck_filing_commitment", "filing", {"commitment_signed": True}),  # when? which?
    ("ck_filing_commitment", "filing", {"commitment_version": "CL-1"}),  # not signed
    ("ck_institution_disease_service_closed", "institution_disease_service",
     {"closed_at": AT - timedelta(days=1)}),
    ("ck_outbox_status", "outbox", {"status": "sent"}),
    ("ck_outbox_attempts", "outbox", {"attempts": -1}),
    ("ck_claim_status", "claim", {"status": "approved!"}),
    ("ck_claim_insutype", "claim", {"insutype": "3100"}),
    ("ck_claim_amounts", "claim", {"approved_amount": 10_001}),
    ("ck_claim_amounts", "claim", {"approved_amount": -1}),
    ("ck_claim_step_status", "claim_step", {"status": "looked at"}),
    ("ck_payment_order_status", "payment_order", {"status": "sent"}),
    ("ck_payment_order_amount", "payment_order", {"amount": 0}),
    ("ck_payment_order_attempts", "payment_order", {"attempts": -1}),
    ("ck_ledger_entry_kind", "ledger_entry", {"kind": "stray"}),
    ("ck_ledger_entry_amount", "ledger_entry", {"amount": 0}),
    ("ck_clearing_month_status", "clearing_month", {"status": "reopened"}),
    ("ck_clearing_month_runs", "clearing_month", {"runs": -1}),
    # issue 19: the advance fund between regions, prepayment by need (domain/advance.py)
    ("ck_clearing_region_drawn", "clearing_region", {"drawn": 6_000}),
    ("ck_region_advance_amount", "region_advance", {"amount": 0}),
    ("ck_advance_interest_amount", "advance_interest", {"amount": -1}),
    ("ck_prepayment_proposal_status", "prepayment_proposal", {"status": "pending",
                                                              "month": None}),
    ("ck_prepayment_proposal_amount", "prepayment_proposal", {"amount": 0}),
    ("ck_prepayment_proposal_decided", "prepayment_proposal", {"month": None}),
    ("ck_prepayment_amount", "prepayment", {"amount": -1_000}),
    ("ck_clearing_application_status", "clearing_application", {"status": "paid"}),
    ("ck_clearing_application_amounts", "clearing_application", {"fund_appy_sum": -50}),
    ("ck_claim_source", "claim", {"source": "99"}),
    ("ck_attestation_purpose", "attestation", {"purpose": "bogus"}),
    ("ck_attestation_method", "attestation", {"method": "none"}),
    ("ck_payee_account_account", "payee_account", {"bank_account": ""}),
    ("ck_payee_account_account", "payee_account", {"bank_name": ""}),
    ("ck_operator_status", "operator", {"status": "bogus"}),
    # roles: each item of the list one of domain/roles.py ROLES, no empty item
    *(("ck_operator_roles", "operator", {"roles": roles}) for roles in (
        "god", "clerk,god", "", "clerk,", ",clerk", "clerk,,auditor", "clerk, auditor",
        "CLERK", "clerkx", "approverclerk")),
    ("ck_ec_token_business_type", "ec_token", {"business_type": "99999"}),
    ("ck_stored_file_kind", "stored_file", {"kind": "bogus"}),
    ("ck_online_order_status", "online_order", {"status": "paid"}),
    # a held order's parts are its total, none negative
    ("ck_online_order_split", "online_order", {"cash_pay": 11}),
    ("ck_online_order_split", "online_order", {"fund_pay": 70}),
    ("ck_online_order_split", "online_order", {"cash_paid": -1}),
    ("ck_online_order_split", "online_order", {"held_at": None}),  # a split never held
    ("ck_online_refund_refd_type", "online_refund", {"refd_type": "SOME"}),
    ("ck_online_refund_status", "online_refund", {"status": "DONE"}),
    ("ck_online_refund_amounts", "online_refund", {"cash_refd": -10}),
    # scopes: each item of the list one of domain/channels.py SCOPES, no empty item
    *(("ck_channel_scopes", "channel", {"scopes": scopes}) for scopes in (
        "admin", "claims,admin", "", "claims,", ",claims", "own_data,,claims",
        "own_data, claims", "CLAIMS", "own_datax")),
    ("ck_channel_request_status", "channel_request", {"status": 500}),
    ("ck_channel_request_status", "channel_request", {"status": 199}),
    # issue 17: electronic prescriptions (domain/prescriptions.py)
    ("ck_practitioner_role", "practitioner", {"role": "nurse"}),
    ("ck_prescription_status", "prescription", {"status": "filled"}),
    ("ck_rx_auth_via", "rx_auth", {"via": "7204"}),
    ("ck_rx_code_kind", "rx_code", {"kind": "sms"}),
    # issue 19: designated institutions (domain/designation.py)
    ("ck_institution_open_kind", "institution", {"open_kind": "b_class"}),
    ("ck_designation_status", "designation", {"status": "ended"}),
    ("ck_designation_insutype", "designation", {"insutype": "31"}),
    ("ck_designation_fix_srt_no", "designation", {"fix_srt_no": 0}),
    ("ck_designation_dates", "designation", {"end_date": date(2025, 12, 31)}),
    ("ck_psn_no_change_kind", "psn_no_change", {"kind": "split"}),
    ("ck_psn_no_change_acct_moved", "psn_no_change", {"acct_moved": -1}),
    ("ck_psn_no_change_numbers", "psn_no_change", {"old_psn_no": PSN}),
    ("ck_insurance_contrib", "insurance", {"contrib_stas": "owing"}),
    ("ck_insurance_contrib", "insurance", {"contrib_stas": "arrears"}),  # no since
    ("ck_contribution_period_status", "contribution_period", {"status": "late"}),
    ("ck_contribution_period_decision", "contribution_period", {"decision": "rumour"}),
    ("ck_contribution_period_amounts", "contribution_period", {"late_fee": -1}),
    ("ck_contribution_period_dates", "contribution_period",
     {"end_date": date(2026, 2, 1)}),
    ("ck_deferral_dates", "deferral", {"until_date": date(2026, 1, 1)}),
    ("ck_deferral_persons", "deferral", {"persons": -1}),
    ("ck_declared_period_dates", "declared_period", {"until_date": date(2026, 5, 1)}),
    # issue 20: supervision (domain/supervision.py)
    ("ck_catalogue_item_limits", "catalogue_item", {"lmt_gend": "3"}),
    ("ck_catalogue_item_limits", "catalogue_item", {"lmt_age_min": 61}),
    ("ck_catalogue_item_limits", "catalogue_item", {"lmt_visit_times": 0}),
    ("ck_supervision_run_engine", "supervision_run", {"engine": "excel"}),
    ("ck_supervision_run_counts", "supervision_run", {"lines": -1}),
    ("ck_clue_status", "clue", {"status": "closed"}),
    ("ck_clue_amount", "clue", {"amount_at_risk": -1}),
    ("ck_clue_case", "clue", {"case_id": "CASE-1"}),
    ("ck_clue_case", "clue", {"status": "in_case"}),
    ("ck_review_warning_stage", "review_warning", {"stage": "3"}),
    ("ck_review_warning_amount", "review_warning", {"amount": -1}),
    ("ck_review_warning_feedback", "review_warning", {"dspo_way": "3"}),
    ("ck_review_warning_feedback", "review_warning", {"fed_back_at": None}),
    ("ck_review_warning_feedback", "review_warning", {"dspo_way_rea": ""}),
    ("ck_clearing_institution_recovered", "clearing_institution", {"recovered": -1}),
    ("ck_supervision_case_status", "supervision_case", {"status": "closed"}),
    ("ck_supervision_case_amount", "supervision_case", {"clues": 0}),
    ("ck_supervision_case_subject", "supervision_case", {"fixmedins_code": ""}),
    ("ck_supervision_case_assigned", "supervision_case", {"assigned_to": None}),
    ("ck_supervision_case_concluded", "supervision_case", {"status": "concluded"}),
    ("ck_case_file_size", "case_file", {"size": 0}),
    ("ck_case_event_kind", "case_event", {"kind": "deleted"}),
    ("ck_case_verification_status", "case_verification", {"status": "lost"}),
    ("ck_case_verification_regions", "case_verification", {"to_region": "110000"}),
    ("ck_case_verification_answered", "case_verification", {"status": "answered"}),
    ("ck_case_conclusion_outcomes", "case_conclusion", {"outcomes": "recovery,jail"}),
    ("ck_case_conclusion_amounts", "case_conclusion", {"fine": -1}),
    ("ck_case_conclusion_months", "case_conclusion", {"suspend_months": 2}),
    ("ck_case_conclusion_recovery", "case_conclusion", {"region": ""}),
]


def _table_of(row_name: str) -> Table:
    return metadata.tables[row_name.removesuffix("_cancel")]


def _insert_good_rows(conn, rows: dict[str, dict[str, Any]], *, first: str = "",
                      refused: tuple[str, dict[str, Any]] | None = None) -> None:
    """The good rows, parents first; ``refused``: the constraint the row named ``first``
    breaks with the given values, tried just before the good row is written."""
    for name, row in rows.items():
        table = _table_of(name)
        if name == first and refused is not None:
            constraint, bad = refused
            _refused_by(conn, constraint, insert(table).values(**(row | bad)))
        conn.execute(insert(table).values(**row))


# made by 0019, 0020 and 0026, after the 0015 round trip
LATER_TABLES = frozenset({"online_order", "online_refund", "channel_request", "practitioner",
                          "prescription", "rx_auth", "rx_code", "designation",
                          "psn_no_change", "contribution_period", "deferral",
                          "declared_period", "institution_disease_service",
                          "region_advance", "advance_interest", "prepayment_proposal",
                          "supervision_run", "clue", "review_warning", "supervision_case",
                          "case_file",
                          "case_event", "case_verification", "case_conclusion"})


def _counts(db, *, skip: frozenset[str] = frozenset()) -> dict[str, int]:
    with db.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in CHECKS if t.name not in skip}


class _Undo(Exception):
    """Raised to roll the good rows back."""


def _refused_by(conn, constraint: str, statement) -> None:
    with pytest.raises(IntegrityError) as caught, conn.begin_nested():
        conn.execute(statement)
    assert constraint_of(caught.value) == constraint, caught.value
    assert classify(caught.value) is Failure.BROKEN


def test_every_check_constraint_has_a_bad_row_below():
    names = {check_name(table, what) for table, checks in CHECKS.items() for what in checks}
    assert names == {constraint for constraint, _, _ in BAD}


def _count_in(conn, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_good_rows_are_accepted(db):
    """No false alarm: the good rows are written (then rolled back; alone the ledger
    entry does not sum to zero, which PostgreSQL checks at commit)."""
    before = _counts(db)
    rows = _good_rows()
    with pytest.raises(_Undo), db.write() as conn:
        _insert_good_rows(conn, rows)
        written = {t.name: _count_in(conn, t) - before[t.name] for t in CHECKS}
        raise _Undo
    expected = {t.name: sum(1 for name in rows if _table_of(name) is t) for t in CHECKS}
    assert written == expected
    assert _counts(db) == before


@pytest.mark.parametrize(("constraint", "row_name", "bad"), BAD,
                         ids=[f"{c}-{r}-{i}" for i, (c, r, _) in enumerate(BAD)])
def test_the_database_refuses_a_bad_row_written_directly(db, constraint, row_name, bad):
    """INSERT of the bad row, and UPDATE of the good row to the bad values: both refused,
    naming the constraint, and nothing is left behind."""
    before = _counts(db)
    rows = _good_rows()
    good, table = rows[row_name], _table_of(row_name)
    with pytest.raises(_Undo), db.write() as conn:
        _insert_good_rows(conn, rows, first=row_name, refused=(constraint, bad))
        key = [table.c[c.name] == good[c.name] for c in table.primary_key.columns
               if c.name in good] or [table.c[c] == good[c] for c in ("feedetl_sn", "txn")
                                      if c in good]
        written = _count_in(conn, table)
        _refused_by(conn, constraint, update(table).where(*key).values(**bad))
        assert conn.execute(select(func.count()).select_from(table).where(*key)).scalar_one(
            ) == 1
        assert _count_in(conn, table) == written
        raise _Undo
    assert _counts(db) == before


def test_the_migrated_database_has_every_check_constraint_of_the_schema(db):
    with db.engine.connect() as conn:
        found = inspect(conn)
        for table, checks in CHECKS.items():
            names = {c["name"] for c in found.get_check_constraints(table.name)}
            assert {check_name(table, what) for what in checks} <= names, table.name


# ---------------------------------------------------------------- every posting sums to zero


def _pg_only(db) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has no deferred constraint triggers: there the posting code "
                    "(ledger.posting asserts the balance) and `yibao ledger verify` keep it")


def _entries(db, txn: str) -> list[tuple[str, int]]:
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(ledger_entry.c.account, ledger_entry.c.amount)
            .where(ledger_entry.c.txn == txn).order_by(ledger_entry.c.account))]


def _refused_at_commit(db, change) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, db.write() as conn:
        change(conn)
    assert constraint_of(caught.value) == "ct_ledger_entry_txn_balanced"
    assert classify(caught.value) is Failure.BROKEN
    return caught.value


def test_a_posting_is_checked_at_commit_not_per_statement(db):
    """Written one entry at a time (unbalanced between the statements), a balanced
    posting commits; an unbalanced one is refused at commit and leaves nothing."""
    _pg_only(db)
    entry = dict(txn="pre:2026-06:H11010500001", kind="prepay", at=AT)
    with db.write() as conn:
        conn.execute(insert(ledger_entry).values(**entry, account="prepaid:H1", amount=700))
        conn.execute(insert(ledger_entry).values(**entry, account="cash:110000", amount=-700))
    assert _entries(db, entry["txn"]) == [("cash:110000", -700), ("prepaid:H1", 700)]
    entry["txn"] = "pre:2026-07:H11010500001"
    error = _refused_at_commit(db, lambda conn: conn.execute(insert(ledger_entry), [
        dict(entry, account="prepaid:H1", amount=700),
        dict(entry, account="cash:110000", amount=-699)]))
    assert "pre:2026-07:H11010500001 sums to 1 fen" in str(error.orig)
    assert _entries(db, entry["txn"]) == []
    with db.write() as conn:  # tidy: the ledger verify of the db fixture reads prepayments
        conn.execute(delete(ledger_entry).where(ledger_entry.c.txn.startswith("pre:")))


def test_changing_or_removing_one_entry_of_a_settlements_posting_is_refused(db, his):
    _pg_only(db)
    setl_id = settle_once(his, WANG_FANG, "100.00")["setl_id"]
    txn = f"setl:{setl_id}"
    posted = _entries(db, txn)
    assert len(posted) >= 2 and sum(amount for _, amount in posted) == 0
    one = ledger_entry.c.account == posted[0][0]
    _refused_at_commit(db, lambda conn: conn.execute(
        update(ledger_entry).where(ledger_entry.c.txn == txn, one)
        .values(amount=ledger_entry.c.amount + 1)))
    _refused_at_commit(db, lambda conn: conn.execute(
        delete(ledger_entry).where(ledger_entry.c.txn == txn, one)))
    _refused_at_commit(db, lambda conn: conn.execute(   # moved to another posting
        update(ledger_entry).where(ledger_entry.c.txn == txn, one).values(txn="setl:X")))
    assert _entries(db, txn) == posted


def test_the_services_write_only_values_the_database_accepts():
    """The status constants of the services are the values the CHECKs allow
    (domain/states.py), so a renamed status fails here, not in production."""
    from yibao.domain.claims import FIRST_APPROVED, ClaimStatus
    from yibao.domain.states import SettlementKind
    from yibao.domain.visit_states import VisitStatus
    from yibao.services import cards, clearing, ecert, fees, outbox, review
    from yibao.services.persons import INSURED

    assert {s.value for s in VisitStatus} == set(states.VISIT)
    assert {k.value for k in SettlementKind} == set(states.SETTLEMENT_KINDS)
    assert {fees.ACTIVE, fees.CANCELLED, review.EXCLUDED} == set(states.FEE_LINE)
    assert {s.value for s in ClaimStatus} == set(states.CLAIM)
    assert set(states.CLAIM_STEP) == {*states.CLAIM, FIRST_APPROVED}
    assert set(outbox.STATUSES) == set(states.OUTBOX)
    assert {cards.VALID, cards.LOST} == set(states.CARD)
    assert {clearing.OPEN, clearing.CLOSED} == set(states.CLEARING_MONTH)
    assert ecert.ACTIVE in states.ECERT
    assert {ecert.ACTIVE, ecert.PENDING, ecert.REMOVED} == set(states.FAMILY_BINDING)
    assert INSURED in states.INSURANCE
    from yibao.services import context, files, operators

    assert tuple(ecert.BUSINESS_TYPES) == states.EC_TOKEN_BUSINESS_TYPES
    assert {files.UPLOAD, files.RESULT, files.CATALOGUE} == set(states.STORED_FILE_KINDS)
    assert operators.ACTIVE in states.OPERATOR
    assert {context.SOURCE_INSTITUTION, context.SOURCE_AGENCY, context.SOURCE_APP} == set(
        states.CLAIM_SOURCES)


def test_every_combination_of_operator_roles_is_accepted(db):
    """No false alarm on the roles list: any non-empty set of the roles, joined as the
    services join them (sorted, comma-separated)."""
    from itertools import combinations

    from yibao.domain.roles import ROLES
    lists = [",".join(sorted(c)) for n in range(1, len(ROLES) + 1)
             for c in combinations(ROLES, n)]
    with pytest.raises(_Undo), db.write() as conn:
        for i, roles in enumerate(lists):
            conn.execute(insert(operator).values(name=f"op-{i}", roles=roles,
                                                 status="active", created_at=AT))
        raise _Undo


def test_on_sqlite_the_constraints_come_and_go_with_the_rows_kept(tmp_path):
    """Adding (and dropping) a CHECK recreates a SQLite table: with rows in the tables and
    in the tables referring to them, 0015 goes down and up again keeping every row (the
    foreign keys are off meanwhile and checked before the migration commits)."""
    database = Database(str(tmp_path / "populated.db"))
    database.migrate()
    with database.write() as conn:
        seed_demo(conn)
        _insert_good_rows(conn, _good_rows())
    counts = _counts(database, skip=LATER_TABLES)
    database.downgrade("0014")
    assert _counts(database, skip=LATER_TABLES) == counts
    with database.read() as conn:
        assert not {c["name"] for c in inspect(conn).get_check_constraints("settlement")}
    database.migrate()
    assert _counts(database, skip=LATER_TABLES) == counts
    with database.read() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(IntegrityError), database.write() as conn:
        conn.execute(update(account).values(balance=-1))
    database.dispose()


def test_a_number_past_its_column_is_an_input_error_not_an_internal_one():
    from yibao.api.hospital import database_failure_code
    out_of_range = DBAPIError("SELECT 1", {}, _PgError("22003"))
    assert database_failure_code(out_of_range, "GET /x") == "E-ENV-005"
    assert database_failure_code(DBAPIError("SELECT 1", {}, _PgError("23514")),
                                 "GET /x") == "E-SYS-002"
