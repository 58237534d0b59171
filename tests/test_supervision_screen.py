"""Screening a month (issue 20, docs/supervision.md): the service records the run and each
clue once (screened twice, or by two operators at once), refuses a bad month, engine or
rule before anything is recorded; the operators' REST routes and the CLI."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from calls import command_call
from concurrency import run_threads
from conftest import AUDITOR, CLERK, REVIEWER
from flows import LI_JIANGUO, fen, person
from supervision_plant import at, stay
from yibao.analytics import screening
from yibao.cli import app as cli
from yibao.domain.errors import Refused
from yibao.services import supervision
from yibao.store.schema import clue, operator_action, supervision_run


def readmitted(his, clock) -> dict:
    """An SV04 finding: 李建国 readmitted a week after his discharge, same diagnosis."""
    psn_no = str(person(his, LI_JIANGUO)["baseinfo"]["psn_no"])
    stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-04-20 08:00:00"),
         discharged=at("2026-04-28 10:00:00"))
    again = stay(his, clock, psn_no, LI_JIANGUO, admitted=at("2026-05-05 08:00:00"),
                 discharged=at("2026-05-12 10:00:00"))
    clock.now = at("2026-06-02 09:00:00")
    return again


def counts(db) -> tuple[int, int, int]:
    """Runs, clues and screening rows of the operators' log."""
    with db.read() as conn:
        return (conn.execute(select(func.count()).select_from(supervision_run)).scalar_one(),
                conn.execute(select(func.count()).select_from(clue)).scalar_one(),
                conn.execute(select(func.count()).select_from(operator_action).where(
                    operator_action.c.action == "supervision.screen")).scalar_one())


def test_a_month_screened_twice_adds_each_clue_once(db, http, his, clock):
    again = readmitted(his, clock)
    first = http.post("/admin/v1/supervision/runs", headers=REVIEWER,
                      json={"month": "2026-05"})
    assert first.status_code == 201, first.json()
    done = first.json()
    assert done["rules"] == [f"SV{n:02d}" for n in range(1, 15)]  # every rule of the library
    assert done["found"]["SV04"] == 1 and done["new_clues"] == sum(done["found"].values())
    assert done["lines"] == 2 and done["settlements"] == 2  # the month and its look-back
    assert fen(done["new_amount_at_risk"]) == fen(again["setl"]["fund_pay_sumamt"])

    second = http.post("/admin/v1/supervision/runs", headers=REVIEWER,
                       json={"month": "2026-05", "rules": ["SV04"]}).json()
    assert (second["found"], second["new_clues"], second["new_amount_at_risk"]) == (
        {"SV04": 1}, 0, "0.00")
    assert counts(db) == (2, done["new_clues"], 2)

    listed = http.get("/admin/v1/supervision/clues", headers=AUDITOR,
                      params={"rule_id": "SV04", "status": "open"}).json()["clues"]
    [found] = listed
    assert (found["mdtrt_id"], found["month"], found["run_id"]) == (
        again["mdtrt_id"], "2026-05", done["run_id"])
    assert fen(found["amount_at_risk"]) == fen(again["setl"]["fund_pay_sumamt"])
    assert "evidence" not in found
    shown = http.get(f"/admin/v1/supervision/clues/{found['clue_id']}", headers=AUDITOR)
    assert shown.status_code == 200
    [row] = shown.json()["evidence"]
    assert row["earlier_endtime"] == "2026-04-28 10:00:00"
    assert http.get("/admin/v1/supervision/clues", headers=AUDITOR,
                    params={"month": "2026-04"}).json()["clues"] == []
    runs = http.get("/admin/v1/supervision/runs", headers=AUDITOR).json()["runs"]
    assert sorted(r["new_clues"] for r in runs) == [0, done["new_clues"]]
    assert {r["operator"] for r in runs} == {"reviewer"}


def test_two_screenings_at_once_record_each_clue_once(db, his, clock):
    readmitted(his, clock)

    def screen_once() -> dict:
        try:
            with db.write() as conn:
                done = supervision.screen(command_call(conn, clock, "op"), "2026-05",
                                          rules=["SV04"])
            return {"new": done.new}
        except Refused as refusal:
            return {"refused": refusal.code}

    answers = run_threads(screen_once, [(), ()])
    assert sorted(a.get("new", -1) for a in answers) == [0, 1], answers
    assert counts(db) == (2, 1, 2)


def test_a_bad_month_engine_or_rule_is_refused_and_nothing_is_recorded(db, http, his, clock,
                                                                       monkeypatch):
    readmitted(his, clock)
    for body, code, status in (
            ({"month": "2026-13"}, "E-SUP-001", 400),
            ({"month": "May"}, "E-SUP-001", 400),
            ({"month": "2026-05", "engine": "oracle"}, "E-SUP-002", 400),
            ({"month": "2026-05", "rules": ["SV99"]}, "E-SUP-003", 400),
            ({"month": "2026-05", "rules": []}, "E-SUP-003", 400)):
        answer = http.post("/admin/v1/supervision/runs", headers=REVIEWER, json=body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), body
    # a rule of the library whose SQL is missing stops the run at its start
    monkeypatch.setattr(screening, "has_sql", lambda rule: rule.id != "SV04")
    missing = http.post("/admin/v1/supervision/runs", headers=REVIEWER,
                        json={"month": "2026-05"})
    assert missing.status_code == 500 and missing.json()["code"] == "E-SUP-004"
    assert "SV04.sql" in missing.json()["detail"]
    assert counts(db) == (0, 0, 0)


def test_screening_needs_the_screen_permission(db, http):
    for headers in (CLERK, AUDITOR):
        denied = http.post("/admin/v1/supervision/runs", headers=headers,
                           json={"month": "2026-05"})
        assert denied.status_code == 403
    assert http.get("/admin/v1/supervision/clues").status_code == 401
    nothing = http.get("/admin/v1/supervision/clues/CL-NONE", headers=AUDITOR)
    assert (nothing.status_code, nothing.json()["code"]) == (404, "E-SUP-006")
    assert counts(db) == (0, 0, 0)


def test_the_library_is_served_with_its_parameters(http):
    rules = {r["id"]: r for r in http.get("/admin/v1/supervision/rules",
                                          headers=AUDITOR).json()["rules"]}
    assert len(rules) == 14
    assert rules["SV04"]["params"] == {"days": 15} and rules["SV04"]["scope"] == "month"
    assert rules["SV01"]["title_zh"] == "同一人短时间内在相距较远的两家机构结算"
    assert rules["SV12"]["params"] == {"ratio": 2, "min_peers": 3, "min_visits": 20}


def test_the_command_line_screens_and_lists_the_clues(db, his, clock):
    again = readmitted(his, clock)
    runner = CliRunner()
    screened = runner.invoke(cli, ["supervision", "screen", "--month", "2026-05",
                                   "--rule", "SV04", "--rule", "SV11", "--db", db.url,
                                   "--operator", "li.si"])
    assert screened.exit_code == 0, screened.output
    assert "SV04\t1" in screened.output and "SV11\t0" in screened.output
    assert "1 clues found, 1 new" in screened.output
    listed = runner.invoke(cli, ["supervision", "clues", "--status", "open", "--db", db.url])
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    cells = line.split("\t")
    assert cells[1:5] == ["SV04", "2026-05", "H11010500001", again["setl"]["psn_no"]]
    assert fen(cells[5]) == fen(again["setl"]["fund_pay_sumamt"]) and cells[6] == "open"
    bad = runner.invoke(cli, ["supervision", "screen", "--month", "2026-5", "--db", db.url])
    assert bad.exit_code == 1 and "E-SUP-001" in bad.output
    with db.read() as conn:
        [logged] = conn.execute(select(operator_action).where(
            operator_action.c.action == "supervision.screen")).mappings().all()
    assert (logged["actor"], logged["role"], logged["subject"]) == ("li.si", "cli", "2026-05")
