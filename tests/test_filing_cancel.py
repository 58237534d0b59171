"""Cancelling a filing while care away from home is still in progress, on both
databases: a filing (area, special disease, injury declaration) that an unsettled visit
away from home could rest on is not cancelled (E-FIL-009, at the window, in the app, by
2502/2504 and by 2601) until the institution settles or cancels the visit; a cancelled
filing never counts afterwards, even for a visit registered later with an earlier
begin; a superseded one still serves the stay admitted under it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps import ChannelApp
from flows import SIGNED, WANG_FANG, ZHAO_LEI, line, ok, refused
from test_away import (
    T0,
    admin_file,
    admit_stay,
    cancel_filing,
    discharge,
    filing_states,
    outbox_rows,
    psn_of,
    race_settlement_and_cancellation,
    referral,
    settle,
    settle_stay,
    temporary_filing,
    visit,
    withdraw_visit,
)
from test_errors import unchanged

PIN = "135790"


def test_an_open_stay_away_keeps_its_referral_until_the_hospital_winds_it_up(
    db, http, his_factory
):
    hebei, beijing = his_factory("H13010200001"), his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = ok(referral(hebei, psn_no))["result"]["trt_dcla_detl_sn"]
    reverse = {"data": {"psn_no": psn_no, "omsgid": hebei.last_msgid, "oinfno": "2501"}}
    cancel = {"data": {"trt_dcla_detl_sn": serial, "psn_no": psn_no, "memo": "不去了"}}
    stay = admit_stay(beijing, psn_no, ZHAO_LEI)  # admitted the day before the referral
    with unchanged(db):
        window = cancel_filing(http, psn_no, serial)
        assert (window["http"], window["code"]) == (409, "E-FIL-009")
        assert stay in window["detail"] and "settled or cancelled" in window["detail"]
        assert stay in refused(hebei.call("2502", cancel), "E-FIL-009")
        assert stay in refused(hebei.call("2601", reverse), "E-FIL-009")

    discharge(beijing, psn_no, stay, "2026-05-11 10:00:00")
    setl = ok(settle_stay(beijing, psn_no, stay, ZHAO_LEI))["setlinfo"]
    [sent] = outbox_rows(db)
    assert sent["payload"]["setlinfo"]["trt_dcla_detl_sn"] == serial
    assert "live settlement" in refused(hebei.call("2502", cancel), "E-FIL-009")
    ok(beijing.call("2305", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": stay,
                                      "psn_no": psn_no}}))
    assert stay in refused(hebei.call("2502", cancel), "E-FIL-009")  # unsettled again
    withdraw_visit(beijing, psn_no, stay, stay=True)
    ok(hebei.call("2502", cancel))
    assert filing_states(http, psn_no) == [(serial, "cancelled")]


def test_the_app_shows_the_refusal_until_the_admission_is_cancelled(db, http, his_factory):
    hebei, home = his_factory("H13010200001"), his_factory("H11010500001")
    app = ChannelApp(http)
    path = f"/channel/v1/certificates/{app.activate()}/filings"
    filed = app.post(path, {"pin": PIN, "filing_type": "resident", **SIGNED, "area": "130102"})
    serial = filed.json()["trt_dcla_detl_sn"]
    psn_no = psn_of(hebei, WANG_FANG)
    stay = admit_stay(hebei, psn_no, WANG_FANG)
    admit_stay(home, psn_no, WANG_FANG)  # at home: rests on no filing
    cancellation = f"{path}/{serial}/cancellation"
    with unchanged(db):
        reply = app.post(cancellation, {"pin": PIN, "reason": "回京"})
        assert (reply.status_code, reply.json()["code"]) == (409, "E-FIL-009")
        assert stay in reply.json()["detail"]
    ok(hebei.call("2404", {"data": {"mdtrt_id": stay, "psn_no": psn_no}}))
    assert app.post(cancellation, {"pin": PIN, "reason": "回京"}).status_code == 200
    assert filing_states(http, psn_no) == [(serial, "cancelled")]


TRAUMA = {"TRUM_FLAG": "1", "REL_TTP_FLAG": "0"}
DISEASE = {"filing_type": "disease", "institution": "H11010500001", "disease_code": "M03900",
           "disease_name": "高血压"}
# filing -> the open visits of 赵磊 (institution, med_type, exp_content), and whether
# they keep the filing from being cancelled
OPEN_VISITS = {
    "area, a visit in its area": (
        {"filing_type": "temporary", **SIGNED, "area": "110000", "end_date": "2026-06-30"},
        [("H11010500001", "11", {})], True),
    "area, visits elsewhere": (
        {"filing_type": "temporary", **SIGNED, "area": "310000", "end_date": "2026-06-30"},
        [("H11010500001", "11", {}), ("H13010200001", "11", {})], False),
    "disease, care at its institution": (DISEASE, [("H11010500001", "14", {})], True),
    "disease, care elsewhere or other care": (
        DISEASE, [("H11010500002", "14", {}), ("H11010500001", "11", {})], False),
    "declaration, an injury in its area": (
        {"filing_type": "trauma", "area": "110000"},
        [("H11010500001", "11", TRAUMA), ("H11010500002", "19", {})], True),
    "declaration, an injury elsewhere": (
        {"filing_type": "trauma", "area": "310000"}, [("H11010500001", "19", {})], False),
    "declaration, no injury away": (
        {"filing_type": "trauma", "area": "110000"},
        [("H11010500001", "11", {}), ("H13010200001", "19", {})], False),
}


@pytest.mark.parametrize(("filed", "visits", "kept"), OPEN_VISITS.values(), ids=OPEN_VISITS)
def test_only_the_visits_a_filing_could_serve_keep_it(db, http, his_factory, filed, visits,
                                                      kept):
    psn_no = psn_of(his_factory("H11010500001"), ZHAO_LEI)
    serial = admin_file(http, psn_no, **filed)["trt_dcla_detl_sn"]
    opened = [visit(his_factory(code), psn_no, ZHAO_LEI, med_type=med_type, exp=exp)
              for code, med_type, exp in visits]
    answer = cancel_filing(http, psn_no, serial)
    if kept:
        assert (answer["http"], answer["code"]) == (409, "E-FIL-009")
        assert all(mdtrt_id in answer["detail"] for mdtrt_id in opened)
        assert filing_states(http, psn_no) == [(serial, "active")]
    else:
        assert answer["http"] == 200
        assert filing_states(http, psn_no) == [(serial, "cancelled")]


def test_the_refusal_names_a_few_visits(db, http, his_factory):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = admin_file(http, psn_no, filing_type="resident", area="110000")[
        "trt_dcla_detl_sn"]
    opened = [visit(beijing, psn_no, ZHAO_LEI) for _ in range(5)]
    message = cancel_filing(http, psn_no, serial)["detail"]
    assert "settled or cancelled (2202 / 2404) first" in message
    assert sum(mdtrt_id in message for mdtrt_id in opened) == 2
    assert message.endswith(" and 3 more")


def test_an_outpatient_visit_left_open_after_its_day_keeps_no_filing(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = temporary_filing(http, psn_no)["trt_dcla_detl_sn"]
    abandoned = visit(beijing, psn_no, ZHAO_LEI)  # registered, never settled nor cancelled
    assert abandoned in cancel_filing(http, psn_no, serial)["detail"]  # the same day
    clock.now = T0 + timedelta(days=1)
    assert cancel_filing(http, psn_no, serial)["http"] == 200
    refused(settle(beijing, psn_no, abandoned, ZHAO_LEI, [line("1", "XA01AAA0001", "10.00")]),
            "E-FIL-002")


# filing, med_type of the later visit, the refusal it meets
CANCELLED_KINDS = {
    "area": ({"filing_type": "temporary", **SIGNED, "area": "110000", "end_date": "2026-06-30"},
             "11", "E-FIL-002"),
    "disease": (DISEASE, "14", "E-FIL-011"),
}


@pytest.mark.parametrize(("filed", "med_type", "code"), CANCELLED_KINDS.values(),
                         ids=CANCELLED_KINDS)
def test_a_visit_registered_after_the_cancellation_finds_no_filing(
    db, http, his_factory, clock, filed, med_type, code
):
    """The HIS registers a visit whose begin lies in the filing's validity, after the
    filing was cancelled (or at the same moment: registration takes no person lock): a
    cancelled filing never counts; filing again before the care is over helps."""
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = admin_file(http, psn_no, **filed)["trt_dcla_detl_sn"]
    clock.now = T0 + timedelta(hours=1)
    assert cancel_filing(http, psn_no, serial)["http"] == 200
    clock.now = T0 + timedelta(hours=2)
    backdated = visit(beijing, psn_no, ZHAO_LEI, med_type=med_type,
                      begin="2026-05-11 10:00:00")  # while the filing was in force
    refused(settle(beijing, psn_no, backdated, ZHAO_LEI, [line("1", "XA01AAA0001", "10.00")],
                   med_type=med_type), code)
    assert outbox_rows(db) == []
    again = admin_file(http, psn_no, **filed)["trt_dcla_detl_sn"]
    ok(settle(beijing, psn_no, backdated, ZHAO_LEI, [], med_type=med_type, total="10.00"))
    [sent] = outbox_rows(db)
    assert sent["payload"]["setlinfo"]["trt_dcla_detl_sn"] == again


def test_a_filing_made_after_discharge_keeps_the_unsettled_stay_it_may_settle(
    db, http, his_factory
):
    """Filed after discharge, before the settlement, the filing covers the stay (the
    2022 notice): it is not cancelled while the stay is unsettled; once cancelled (after
    the institution cancels the stay) it covers nothing."""
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    stay = admit_stay(beijing, psn_no, ZHAO_LEI)
    discharge(beijing, psn_no, stay, "2026-05-11 09:00:00")
    serial = temporary_filing(http, psn_no)["trt_dcla_detl_sn"]  # at 09:30
    refusal = cancel_filing(http, psn_no, serial)
    assert refusal["http"] == 409 and stay in refusal["detail"]
    for infno in ("2405", "2404"):  # the institution reopens and cancels the stay
        ok(beijing.call(infno, {"data": {"mdtrt_id": stay, "psn_no": psn_no}}))
    assert cancel_filing(http, psn_no, serial)["http"] == 200


def test_a_stay_admitted_under_a_superseded_filing_settles_on_it(
    db, http, his_factory, clock
):
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    old = temporary_filing(http, psn_no)["trt_dcla_detl_sn"]
    stay = admit_stay(beijing, psn_no, ZHAO_LEI)
    clock.now = T0 + timedelta(hours=1)
    new = admin_file(http, psn_no, filing_type="resident", area="310000")  # re-filing
    assert new["status"] == 201 and dict(filing_states(http, psn_no))[old] == "superseded"
    assert "superseded" in cancel_filing(http, psn_no, old)["detail"]  # ended already
    assert cancel_filing(http, psn_no, new["trt_dcla_detl_sn"])["http"] == 200  # Shanghai
    discharge(beijing, psn_no, stay, "2026-05-11 11:00:00")
    ok(settle_stay(beijing, psn_no, stay, ZHAO_LEI))
    [sent] = outbox_rows(db)
    info = sent["payload"]["setlinfo"]
    assert (info["trt_dcla_detl_sn"], info["away_basis"]) == (old, "temporary")


def test_a_final_settlement_and_the_cancellation_of_its_filing_at_once(
    db, app, http, his_factory, clock
):
    """The person's lock orders them; either way the stay settles on the filing and the
    cancellation is refused (first: the stay is unsettled; second: a live settlement
    uses it)."""
    beijing = his_factory("H11010500001")
    psn_no = psn_of(beijing, ZHAO_LEI)
    serial = temporary_filing(http, psn_no)["trt_dcla_detl_sn"]
    for _ in range(4):
        stay = admit_stay(beijing, psn_no, ZHAO_LEI)
        discharge(beijing, psn_no, stay, "2026-05-11 10:00:00")  # filed before discharge
        answers = race_settlement_and_cancellation(db, app, beijing, clock, stay, serial,
                                                   med_type="21", stay=True)
        assert answers == ["settled", "E-FIL-009"]
    assert [r["payload"]["setlinfo"]["trt_dcla_detl_sn"] for r in outbox_rows(db)] == [
        serial] * 4
    assert filing_states(http, psn_no) == [(serial, "active")]
