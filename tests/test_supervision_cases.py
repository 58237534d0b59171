"""From clue to case (issue 20, docs/supervision.md): clues triaged into cases, assigned,
given evidence, verified between regions and concluded; the recovery posted in the fund
ledger and netted off in the institution's next clearing; races of two operators."""

from __future__ import annotations

import base64
import itertools
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from calls import command_call
from concurrency import race
from conftest import ADMIN, APPROVER, APPROVER2, AUDITOR, CLERK, REVIEWER, bearer
from flows import WANG_FANG, fen, person, settle_once
from yibao.api.admin import operator_call
from yibao.domain import supervision_case as rules
from yibao.domain.errors import Refused
from yibao.domain.money import fen_to_yuan as yuan
from yibao.domain.roles import Operator
from yibao.services import ledger, operators, statements
from yibao.services import supervision_cases as cases
from yibao.services.context import Ids
from yibao.store import clues
from yibao.store.schema import (
    clearing_institution,
    institution,
    ledger_entry,
    operator_action,
    suspension,
)

CASES = "/admin/v1/supervision/cases"
CLUES = "/admin/v1/supervision/clues"
H1, H2 = "H11010500001", "H11010500002"
_serial = itertools.count(1)


def plant_clues(db, clock, *specs: tuple[str, str, int]) -> list[str]:
    """Clues as a screening would record them: (institution, psn_no, amount at risk fen)
    each; their ids."""
    made: list[str] = []
    run_id = f"SR-T{next(_serial)}"

    def new_id() -> str:
        made.append(f"CL-T{next(_serial)}")
        return made[-1]

    found = [clues.Found(rule_id="SV06", clue_key=f"{run_id}-{i}", month="2026-05",
                         fixmedins_code=code, psn_no=psn_no, mdtrt_id=f"MD{i}",
                         amount_at_risk=amount, summary="same item billed twice",
                         evidence=[{"med_list_codg": "XA01AAA0001", "cnt": 2}])
             for i, (code, psn_no, amount) in enumerate(specs)]
    with db.write() as conn:
        clues.record_run(conn, run_id=run_id, month="2026-05", engine="duckdb",
                         rules=["SV06"], lines=10, operator="test", started_at=clock(),
                         finished_at=clock(), found=found, new_id=new_id)
    return made


def post(http, path: str, headers, body: dict | None = None):
    return http.post(path, headers=headers, json=body or {})


def problem(answer, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code, answer.text


def second_reviewer(db, clock) -> dict[str, str]:
    """Another operator with supervision.triage: the other region's."""
    with db.write() as conn:
        operators.create(command_call(conn, clock), "reviewer-hebei", ["reviewer"],
                         token="test-reviewer-hebei")
    return bearer("test-reviewer-hebei")


def opened(http, clue_ids: list[str], assignee: str = "reviewer") -> str:
    answer = post(http, CASES, REVIEWER, {"clue_ids": clue_ids})
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["case_id"]
    assigned = post(http, f"{CASES}/{case_id}/assign", REVIEWER, {"assignee": assignee})
    assert assigned.status_code == 200, assigned.text
    return str(case_id)


def statement_row(db, month: str, code: str) -> dict:
    with db.read() as conn:
        return dict(conn.execute(select(clearing_institution).where(
            clearing_institution.c.month == month,
            clearing_institution.c.fixmedins_code == code)).mappings().one())


def run_month(http, db, clock, month: str, *, close: bool = True) -> None:
    from yibao.services import clearing
    with db.write() as conn:
        call = operator_call(conn, Operator("finance", clock(), frozenset({"finance"}),
                                            "finance"), Ids(clock), ())
        clearing.run(call, month)
    if close:
        with db.write() as conn:
            call = operator_call(conn, Operator("finance", clock(), frozenset({"finance"}),
                                                "finance"), Ids(clock), ())
            clearing.close(call, month)


def owed(setlinfo: dict) -> int:
    return fen(setlinfo["fund_pay_sumamt"]) + fen(setlinfo["acct_pay"])


# ---------------------------------------------------------------- the whole path


def test_a_clue_to_a_concluded_case_with_recovery_netted_off_in_the_next_clearing(
        db, http, his, clock, tmp_path):
    may = owed(settle_once(his, WANG_FANG, "3000.00"))
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    first, second = plant_clues(db, clock, (H1, psn_no, 60_000), (H1, "", 20_000))
    hebei = second_reviewer(db, clock)

    shown = http.get(f"{CLUES}/{first}", headers=AUDITOR).json()
    assert (shown["status"], shown["amount_at_risk"], shown["evidence"]) == (
        "open", "600.00", [{"med_list_codg": "XA01AAA0001", "cnt": 2}])
    answer = post(http, CASES, REVIEWER, {"clue_ids": [first, second]})
    assert answer.status_code == 201, answer.text
    case = answer.json()
    case_id = case["case_id"]
    assert (case["status"], case["fixmedins_code"], case["psn_no"], case["amount_at_risk"],
            case["clues"]) == ("open", H1, "", "800.00", 2)
    assert {c["status"] for c in case["clue_list"]} == {"in_case"}
    problem(post(http, f"{CASES}/{case_id}/conclude", APPROVER, {"no_problem": True}),
            409, "E-CAS-009")  # not assigned yet

    assert post(http, f"{CASES}/{case_id}/assign", REVIEWER,
                {"assignee": "reviewer"}).json()["status"] == "investigating"
    note = post(http, f"{CASES}/{case_id}/evidence", REVIEWER, {
        "note": "ward register: one dose given", "file_name": "register.txt",
        "file_base64": base64.b64encode(b"bed 3: one dose").decode()})
    assert note.status_code == 201, note.text
    file_id = note.json()["file_id"]
    got = http.get(f"{CASES}/{case_id}/files/{file_id}", headers=AUDITOR)
    assert got.status_code == 200 and got.content == b"bed 3: one dose"

    asked = post(http, f"{CASES}/{case_id}/verifications", REVIEWER, {
        "from_region": "110000", "to_region": "130102", "question": "was she in Hebei?"})
    assert asked.status_code == 201, asked.text
    vid = asked.json()["verification_id"]
    problem(post(http, f"{CASES}/{case_id}/conclude", APPROVER, {"recovery": "300.00"}),
            409, "E-CAS-009")  # waits for the answer
    problem(post(http, f"{CASES}/{case_id}/verifications/{vid}/answer", APPROVER,
                 {"answer": "no"}), 403, "E-ADM-003")
    answered = post(http, f"{CASES}/{case_id}/verifications/{vid}/answer", hebei,
                    {"answer": "no stay of hers in Hebei that day"})
    assert answered.status_code == 200 and answered.json()["status"] == "investigating"
    problem(post(http, f"{CASES}/{case_id}/verifications/{vid}/answer", hebei,
                 {"answer": "again"}), 409, "E-CAS-015")

    problem(post(http, f"{CASES}/{case_id}/conclude", REVIEWER, {"recovery": "300.00"}),
            403, "E-ADM-003")
    concluded = post(http, f"{CASES}/{case_id}/conclude", APPROVER,
                     {"recovery": "300.00", "note": "billed twice"})
    assert concluded.status_code == 200, concluded.text
    assert (concluded.json()["outcomes"], concluded.json()["recovery"]) == (
        ["recovery"], "300.00")
    problem(post(http, f"{CASES}/{case_id}/conclude", APPROVER2, {"recovery": "300.00"}),
            409, "E-CAS-005")
    problem(post(http, f"{CASES}/{case_id}/evidence", REVIEWER, {"note": "late"}),
            409, "E-CAS-005")
    with db.read() as conn:
        posted = {r.account: r.amount for r in conn.execute(select(
            ledger_entry.c.account, ledger_entry.c.amount).where(
            ledger_entry.c.txn == f"rcv:{case_id}"))}
        assert posted == {f"recoverable:{H1}": 30_000, "recovered:110000": -30_000}
        assert ledger.verify(conn) == []

    whole = http.get(f"{CASES}/{case_id}", headers=AUDITOR).json()
    assert [(e["kind"], e["actor"]) for e in whole["events"]] == [
        ("opened", "reviewer"), ("assigned", "reviewer"), ("evidence", "reviewer"),
        ("verification_asked", "reviewer"), ("verification_answered", "reviewer-hebei"),
        ("concluded", "approver")]
    assert whole["verifications"][0]["answered_by"] == "reviewer-hebei"
    assert whole["status"] == "concluded" and whole["concluded_by"] == "approver"
    with db.read() as conn:
        logged = [r.action for r in conn.execute(select(operator_action.c.action).where(
            operator_action.c.subject == case_id).order_by(operator_action.c.id))]
    assert logged == ["case.open", "case.assign", "case.evidence", "case.verification.ask",
                      "case.verification.answer", "case.conclude"]

    # May's clearing (the first month not closed) deducts exactly the recovery
    clock.now = datetime(2026, 6, 2, 9, 0)
    run_month(http, db, clock, "2026-05")
    row = statement_row(db, "2026-05", H1)
    assert (row["fund"] + row["acct"], row["recovered"], row["due"]) == (
        may, 30_000, may - 30_000)
    with db.read() as conn:
        assert ledger.balance(conn, f"recoverable:{H1}") == 0
        assert ledger.verify(conn) == []
        written = statements.write(conn, "2026-05", tmp_path)
    csv = (tmp_path / f"statement-2026-05-{H1}.csv").read_text(encoding="utf-8")
    assert "recovered,300.00" in csv and f"due,{yuan(may - 30_000)}" in csv, written


def test_a_recovery_larger_than_the_months_due_carries_to_the_following_month(
        db, http, his, clock):
    may = owed(settle_once(his, WANG_FANG, "100.00"))
    [clue_id] = plant_clues(db, clock, (H1, "", 500_000))
    case_id = opened(http, [clue_id])
    assert post(http, f"{CASES}/{case_id}/conclude", APPROVER,
                {"recovery": "5000.00"}).status_code == 200
    clock.now = datetime(2026, 6, 2, 9, 0)
    run_month(http, db, clock, "2026-05")
    row = statement_row(db, "2026-05", H1)
    assert (row["recovered"], row["due"]) == (may, 0)
    june = owed(settle_once(his, WANG_FANG, "3000.00"))
    clock.now = datetime(2026, 7, 2, 9, 0)
    run_month(http, db, clock, "2026-06")
    row = statement_row(db, "2026-06", H1)
    assert (row["recovered"], row["due"]) == (min(500_000 - may, june),
                                              june - min(500_000 - may, june))
    with db.read() as conn:
        assert ledger.balance(conn, f"recoverable:{H1}") == 500_000 - may - row["recovered"]
        assert ledger.verify(conn) == []


@given(outstanding=st.integers(0, 10**12), owed=st.integers(-10**9, 10**12),
       prepaid=st.integers(0, 10**12))
def test_a_months_recovery_never_exceeds_what_is_outstanding_or_payable(
        outstanding, owed, prepaid):
    taken = rules.recovered_this_month(outstanding, owed, prepaid)
    carried = outstanding - taken
    assert 0 <= taken <= outstanding and carried >= 0
    assert owed - prepaid - taken >= min(0, owed - prepaid)  # never below zero by it
    assert taken == outstanding or owed - prepaid - taken <= 0  # all that could be


# ---------------------------------------------------------------- the other outcomes


def test_fine_suspension_of_the_person_and_of_the_institution(db, http, his, clock):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    [clue_id] = plant_clues(db, clock, (H2, psn_no, 10_000))
    case_id = opened(http, [clue_id])
    url = f"{CASES}/{case_id}/conclude"
    problem(post(http, url, APPROVER, {"suspend_months": 2}), 400, "E-CAS-013")
    problem(post(http, url, APPROVER, {"suspend_months": 13}), 400, "E-CAS-013")
    problem(post(http, url, APPROVER, {"no_problem": True, "fine": "10.00"}), 400,
            "E-CAS-011")
    problem(post(http, url, APPROVER, {}), 400, "E-CAS-011")
    problem(post(http, url, APPROVER, {"recovery": "100.01"}), 400, "E-CAS-012")
    problem(post(http, url, APPROVER, {"recovery": "1.005"}), 400, "E-CAS-011")
    done = post(http, url, APPROVER, {"recovery": "150.00", "recovery_reason":
                                      "the visit's other lines were billed twice too",
                                      "fine": "2000.00", "suspend_months": 3,
                                      "suspend_institution": True})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["outcomes"] == ["recovery", "fine", "suspend_person", "suspend_institution"]
    assert (body["fine"], body["suspend_months"]) == ("2000.00", 3)
    with db.read() as conn:
        # the fine is the treasury's: never in the fund ledger
        assert {r.txn for r in conn.execute(select(ledger_entry.c.txn).where(
            ledger_entry.c.txn.startswith("rcv:")))} == {f"rcv:{case_id}"}
        actions = {r.action for r in conn.execute(select(operator_action.c.action).where(
            operator_action.c.role == "approver"))}
    assert {"suspension.create", "institution.networked", "case.conclude"} <= actions
    with db.read() as conn:
        held = conn.execute(select(suspension.c.begin_date, suspension.c.end_date,
                                   suspension.c.operator).where(
            suspension.c.psn_no == psn_no)).all()
        networked = conn.execute(select(institution.c.networked).where(
            institution.c.fixmedins_code == H2)).scalar_one()
    # from tomorrow, three months, through the existing suspension; H2 off the network
    assert [(str(b), str(e), who) for b, e, who in held] == [
        ("2026-05-12", "2026-08-11", "approver")]
    assert networked is False


def test_suspension_ends_the_day_before_the_same_day_months_later():
    from datetime import date
    assert rules.suspension_end(date(2026, 5, 12), 3) == date(2026, 8, 11)
    assert rules.suspension_end(date(2026, 11, 30), 3) == date(2027, 2, 27)
    assert rules.suspension_end(date(2026, 1, 1), 12) == date(2026, 12, 31)


def test_no_problem_closes_the_case_and_posts_nothing(db, http, clock):
    [clue_id] = plant_clues(db, clock, (H1, "", 10_000))
    case_id = opened(http, [clue_id])
    done = post(http, f"{CASES}/{case_id}/conclude", APPROVER, {"no_problem": True,
                                                               "note": "prescribed twice"})
    assert done.status_code == 200 and done.json()["outcomes"] == ["no_problem"]
    with db.read() as conn:
        assert conn.execute(select(ledger_entry.c.txn).where(
            ledger_entry.c.txn.startswith("rcv:"))).first() is None


# ---------------------------------------------------------------- refusals


def test_clues_dismissed_or_taken_are_not_taken_again(db, http, clock):
    a, b, c = plant_clues(db, clock, (H1, "P1", 100), (H2, "P2", 100), (H1, "P3", 100))
    problem(post(http, CASES, REVIEWER, {"clue_ids": [a, b]}), 400, "E-CAS-002")
    problem(post(http, CASES, CLERK, {"clue_ids": [a]}), 403, "E-ADM-003")
    problem(post(http, CASES, REVIEWER, {"clue_ids": ["CL-NONE"]}), 404, "E-CAS-004")
    problem(post(http, f"{CLUES}/{b}/dismiss", REVIEWER, {"reason": " "}), 400, "E-CAS-007")
    dismissed = post(http, f"{CLUES}/{b}/dismiss", REVIEWER, {"reason": "both doses given"})
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    problem(post(http, f"{CLUES}/{b}/dismiss", REVIEWER, {"reason": "again"}), 409,
            "E-CAS-003")
    problem(post(http, CASES, REVIEWER, {"clue_ids": [b]}), 409, "E-CAS-003")
    case = post(http, CASES, REVIEWER, {"clue_ids": [a, c]}).json()
    assert (case["fixmedins_code"], case["psn_no"]) == (H1, "")
    problem(post(http, CASES, REVIEWER, {"clue_ids": [c]}), 409, "E-CAS-003")
    problem(post(http, f"{CLUES}/{a}/dismiss", REVIEWER, {"reason": "r"}), 409, "E-CAS-003")
    statuses = {r["clue_id"]: r["status"] for r in
                http.get(CLUES, headers=AUDITOR).json()["clues"]}
    assert statuses == {a: "in_case", b: "dismissed", c: "in_case"}


def test_assignment_and_regions_are_checked(db, http, clock):
    [clue_id] = plant_clues(db, clock, (H1, "", 100))
    case_id = post(http, CASES, REVIEWER, {"clue_ids": [clue_id]}).json()["case_id"]
    url = f"{CASES}/{case_id}"
    problem(post(http, f"{url}/assign", REVIEWER, {"assignee": "nobody"}), 400, "E-CAS-006")
    problem(post(http, f"{url}/assign", REVIEWER, {"assignee": "approver"}), 400,
            "E-CAS-006")
    problem(post(http, f"{url}/verifications", REVIEWER, {
        "from_region": "110000", "to_region": "130102", "question": "q"}), 409, "E-CAS-009")
    post(http, f"{url}/assign", REVIEWER, {"assignee": "reviewer"})
    problem(post(http, f"{url}/verifications", REVIEWER, {
        "from_region": "110000", "to_region": "110000", "question": "q"}), 400, "E-CAS-008")
    problem(post(http, f"{url}/verifications", REVIEWER, {
        "from_region": "11000x", "to_region": "130102", "question": "q"}), 400, "E-CAS-008")
    problem(post(http, f"{url}/verifications/VF-NONE/answer", REVIEWER, {"answer": "a"}),
            404, "E-CAS-014")
    problem(http.get(f"{CASES}/CS-NONE", headers=AUDITOR), 404, "E-CAS-001")
    problem(http.get(f"{url}/files/CF-NONE", headers=AUDITOR), 404, "E-CAS-016")


def test_the_investigator_never_concludes_whatever_their_roles(db, http, clock, every_role):
    [clue_id] = plant_clues(db, clock, (H1, "", 100))
    case_id = post(http, CASES, every_role, {"clue_ids": [clue_id]}).json()["case_id"]
    assert post(http, f"{CASES}/{case_id}/assign", every_role,
                {"assignee": "every-role"}).status_code == 200
    problem(post(http, f"{CASES}/{case_id}/conclude", every_role, {"no_problem": True}),
            403, "E-CAS-010")
    assert post(http, f"{CASES}/{case_id}/conclude", APPROVER,
                {"no_problem": True}).status_code == 200


# ---------------------------------------------------------------- races


def _call(conn, clock, name: str, role: str):
    return operator_call(conn, Operator(name, clock(), frozenset({role}), role),
                         Ids(clock), ())


def test_two_operators_taking_one_clue_at_once_make_one_case(db, clock):
    [clue_id] = plant_clues(db, clock, (H1, "", 5_000))

    def take() -> str:
        try:
            with db.write() as conn:
                return cases.open_case(_call(conn, clock, "reviewer", "reviewer"), [clue_id])
        except Refused as refusal:
            return refusal.code

    answers = race(take, take)
    assert sorted(a[:2] for a in answers) == ["CS", "E-"]
    assert "E-CAS-003" in answers
    with db.read() as conn:
        assert len(cases.listed(conn)) == 1
        assert clues.get(conn, clue_id)["case_id"] in answers


def test_two_approvers_concluding_at_once_post_the_recovery_once(db, http, clock):
    [clue_id] = plant_clues(db, clock, (H1, "", 50_000))
    case_id = opened(http, [clue_id])

    def conclude_as(name: str) -> str:
        try:
            with db.write() as conn:
                cases.conclude(_call(conn, clock, name, "approver"), case_id,
                               rules.Conclusion(recovery=40_000))
            return "concluded"
        except Refused as refusal:
            return refusal.code

    answers = race(lambda: conclude_as("approver"), lambda: conclude_as("approver2"))
    assert sorted(answers) == ["E-CAS-005", "concluded"]
    with db.read() as conn:
        assert ledger.balance(conn, f"recoverable:{H1}") == 40_000
        assert len(conn.execute(select(ledger_entry.c.txn).where(
            ledger_entry.c.txn == f"rcv:{case_id}")).all()) == 2
    assert ADMIN  # every operator may read the case
    assert http.get(f"{CASES}/{case_id}", headers=ADMIN).json()["status"] == "concluded"
