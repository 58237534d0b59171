"""Hostile input on the REST APIs (/admin/v1, /channel/v1), on both databases.

Times sent with an offset are stored as the same China Standard Time on SQLite and
PostgreSQL; text no database can store (NUL, an unpaired surrogate), anywhere in the
request, is refused with 422 and the field's location; a refusal changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from apps import FACE_OK, WANG, ChannelApp
from conftest import ADMIN
from test_errors import snapshot, unchanged
from yibao.store.schema import fault_period

JSON = {"content-type": "application/json"}
HOSPITAL = "H11010500001"
NUL, SURROGATE = "\x00", "\ud800"


def fault(http, begin: Any, end: Any, reason: str = "link down"):
    body = json.dumps({"begin_at": begin, "end_at": end, "reason": reason})
    return http.post(f"/admin/v1/institutions/{HOSPITAL}/faults", content=body,
                     headers=ADMIN | JSON)


def stored_fault(db) -> tuple[datetime, datetime]:
    with db.read() as conn:
        row = conn.execute(select(fault_period.c.begin_at, fault_period.c.end_at)).one()
    return row.begin_at, row.end_at


# ---------------------------------------------------------------- times with an offset


@pytest.mark.parametrize("begin, end", [
    ("2026-05-11T00:00:00Z", "2026-05-11T12:00:00"),             # UTC and naive CST mixed
    ("2026-05-11T10:00:00+10:00", "2026-05-11T04:00:00+00:00"),  # two offsets
    ("2026-05-11T08:00:00+08:00", "2026-05-11T12:00:00+08:00"),  # CST spelled out
    (1778457600, "2026-05-11T12:00:00"),                          # unix seconds (UTC)
])
def test_times_with_an_offset_are_stored_as_china_standard_time(http, db, begin, end):
    reply = fault(http, begin, end)
    assert reply.status_code == 201, reply.text
    assert stored_fault(db) == (datetime(2026, 5, 11, 8), datetime(2026, 5, 11, 12))


@pytest.mark.parametrize("begin", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_time_outside_the_calendar_in_china_is_refused(http, db, begin):
    with unchanged(db):
        reply = fault(http, begin, "2026-05-11T12:00:00")
    assert reply.status_code == 422, reply.text
    assert "China Standard Time" in reply.text


# ---------------------------------------------------------------- text no database stores


def admin_requests(bad: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, body) with ``bad`` text in a body field, a nested field and a key;
    a NUL (%00) also in a path and a query parameter (a URL cannot carry a surrogate)."""
    in_bodies: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", f"/admin/v1/institutions/{HOSPITAL}/faults",
         {"begin_at": "2026-05-11T08:00:00", "end_at": "2026-05-11T12:00:00",
          "reason": f"link{bad}down"}),
        ("POST", "/admin/v1/persons/11000000000000000001/suspensions",
         {"begin_date": "2026-05-11", "end_date": "2026-06-11", "reason": f"x{bad}"}),
        ("POST", "/admin/v1/claims/C1/decision",
         {"approve": False, "excluded_lines": {f"2{bad}": "no"}, "reason": "r"}),
        ("POST", "/admin/v1/claims",
         {"psn_no": "11000000000000000001", "payee": {"bank_name": f"b{bad}",
                                                       "bank_account": "622202020000",
                                                       "account_name": "王芳"}}),
    ]
    in_urls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/admin/v1/cards/SS%0001/loss", None),
        ("GET", "/admin/v1/persons/1%00/audit", None),
        ("GET", "/admin/v1/claims?status=sub%00mitted", None),
        ("GET", "/admin/v1/outbox/S%001", None),
    ]
    return in_bodies + (in_urls if bad == NUL else [])


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_unstorable_text_anywhere_in_an_admin_request_is_refused(http, db, bad, every_role):
    for method, path, body in admin_requests(bad):
        content = None if body is None else json.dumps(body).encode()
        with unchanged(db):
            reply = http.request(method, path, content=content, headers=every_role | JSON)
        assert reply.status_code == 422, (path, reply.text)
        [error, *_] = reply.json()["errors"]
        assert error["message"].startswith("text must not contain"), error
        assert error["field"].split(".")[0] in ("body", "path", "query"), error


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_unstorable_text_in_a_channel_request_is_refused(http, db, bad):
    app = ChannelApp(http)
    with unchanged(db):
        reply = app.post("/channel/v1/certificates",
                         dict(WANG, name=f"王{bad}芳", pin="135790", real_person=FACE_OK))
        assert reply.status_code == 422, reply.text
        assert reply.json()["errors"][0]["field"] == "body.name"
        reply = app.post("/channel/v1/certificates/C1/qr", {"pin": f"1357{bad}"})
        assert reply.status_code == 422, reply.text


# ---------------------------------------------------------------- property

OFFSETS = st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                                            max_value=timedelta(hours=23, minutes=59)))
TIMES = (st.datetimes(timezones=st.none() | OFFSETS).map(datetime.isoformat)
         | st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                            "0000-01-01T00:00:00", "２０２６-05-11T08:00:00", "2026-05-1١T08:00",
                            "2026-05-11T08:00:00\x00"])
         | st.integers(min_value=-(10**12), max_value=10**12))
DATES = st.dates().map(str) | st.sampled_from(["0000-01-01", "9999-12-31", "٢٠٢٦-٠٥-١١"])
TEXT = st.text(max_size=8) | st.sampled_from(["\x00", "a\x00b", "\ud800", "²", "١٢"])
REQUESTS = st.one_of(
    st.builds(lambda b, e, r: (f"/admin/v1/institutions/{HOSPITAL}/faults",
                               {"begin_at": b, "end_at": e, "reason": r}), TIMES, TIMES, TEXT),
    st.builds(lambda b, e, r: ("/admin/v1/persons/11000000000000000001/suspensions",
                               {"begin_date": b, "end_date": e, "reason": r}), DATES, DATES, TEXT),
    st.builds(lambda d, t, a: ("/admin/v1/filings", {
        "psn_no": "11000000000000000001", "filing_type": t, "area": a, "end_date": d}),
        DATES, st.sampled_from(["temporary", "resident", "t\x00"]), TEXT),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=REQUESTS)
def test_hostile_times_dates_and_text_get_a_clean_answer(http, db, request, every_role):
    """Aware and extreme times, non-ASCII digits and NUL: never a 500, a refusal changes
    nothing (``snapshot``), on both databases."""
    path, body = request
    before = snapshot(db)
    reply = http.post(path, content=json.dumps(body).encode(), headers=every_role | JSON)
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert snapshot(db) == before
