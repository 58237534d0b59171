"""The operators' log in the console over HTTP: auditors and administrators read it
(newest first, by operator or subject, a page at a time); other roles neither see it in
the navigation nor open it."""

from __future__ import annotations

from html import unescape

import pytest

from calls import command_call
from test_console import sign_in
from test_console_persons import table_rows
from yibao.services import audit, operators

OTHERS = ["clerk", "reviewer", "approver", "finance"]


def logged_actions(db, clock, count: int) -> None:
    """``count`` rows in the operators' log (operators created by the command line)."""
    with db.write() as conn:
        for number in range(count):
            operators.create(command_call(conn, clock), f"op{number:03}", ["clerk"],
                             token=f"token-{number:03}-long-enough")


@pytest.mark.parametrize("name", ["auditor", "admin"])
def test_auditors_and_administrators_read_the_log_newest_first(http, db, clock, name):
    logged_actions(db, clock, 3)
    with db.write() as conn:  # a command run on the server with --operator: role "cli"
        operators.create(command_call(conn, clock, "ops"), "op-cli", ["auditor"],
                         token="token-cli-long-enough")
    sign_in(http, name)
    home = http.get("/console").text
    assert 'href="/console/log"' in home
    rows = table_rows(http.get("/console/log").text, "actions")
    with db.read() as conn:
        newest = audit.actions(conn, limit=100)
    assert [int(row[0]) for row in rows] == [a["id"] for a in newest]
    assert rows[0][4] == newest[0]["action"]  # the console.signin of this session
    assert any(row[4] == "operator.create" and row[5] == "op002" for row in rows)
    assert ["ops", "cli", "operator.create", "op-cli"] in [row[2:6] for row in rows]
    english = unescape(http.get("/console/log?lang=en").text)
    assert "<h1>Operators' log</h1>" in english
    assert f"<td>{'auditor' if name == 'auditor' else 'administrator'}</td>" in english


def test_the_log_is_filtered_by_operator_and_subject_and_paged(http, db, clock):
    logged_actions(db, clock, 120)
    sign_in(http, "auditor")
    by_subject = table_rows(http.get("/console/log?subject=op007").text, "actions")
    assert [row[5] for row in by_subject] == ["op007"]
    by_actor = table_rows(http.get("/console/log?actor=auditor").text, "actions")
    assert [row[4] for row in by_actor] == ["console.signin"]
    first = http.get("/console/log").text
    rows = table_rows(first, "actions")
    assert len(rows) == 100 and 'id="older"' in first
    last_id = int(rows[-1][0])
    older = table_rows(http.get(f"/console/log?before={last_id}").text, "actions")
    with db.read() as conn:
        expected = audit.actions(conn, before=last_id, limit=100)
    assert [int(row[0]) for row in older] == [a["id"] for a in expected]
    assert 20 <= len(older) < 100 and all(int(row[0]) < last_id for row in older)
    for bad in ("x", "0", "99999999999"):
        answer = http.get(f"/console/log?before={bad}")
        assert answer.status_code == 400 and "E-ENV-005" in answer.text


@pytest.mark.parametrize("name", OTHERS)
def test_other_roles_neither_see_nor_open_the_log(http, name):
    sign_in(http, name)
    assert 'href="/console/log"' not in http.get("/console").text
    answer = http.get("/console/log")
    assert answer.status_code == 403 and "E-ADM-003" in answer.text
