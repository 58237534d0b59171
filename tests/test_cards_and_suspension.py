"""The bureau's side of credentials: a card reported lost is refused at once, a replaced
card works with its new card_sn and not the old one, a suspension refuses every
credential with its reason and end date; each is in the audit trail."""

from __future__ import annotations

from conftest import ADMIN, AUDITOR, CLERK
from flows import (
    WANG_FANG,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)

CARD = {"mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001", "card_sn": "SN0000000001"}


def by_card(his, card_sn: str = "SN0000000001") -> dict:
    return his.call("1101", {"data": dict(CARD, card_sn=card_sn)})


def test_lost_card_is_refused_at_once_and_replacement_works(http, his):
    assert ok(by_card(his))["baseinfo"]["psn_name"] == "王芳"
    lost = http.post("/admin/v1/cards/BJ0000000001/loss", headers=CLERK)
    assert lost.status_code == 200
    assert "reported lost on 2026-05-11" in refused(by_card(his), "E-PSN-004")
    again = http.post("/admin/v1/cards/BJ0000000001/loss", headers=CLERK)
    assert again.status_code == 409 and again.json()["code"] == "E-PSN-004"
    new = http.post("/admin/v1/cards/BJ0000000001/replacement", headers=CLERK,
                    json={"card_sn": "SN0000000101"})
    assert new.status_code == 200
    assert ok(by_card(his, "SN0000000101"))["baseinfo"]["psn_name"] == "王芳"
    assert "replaced on 2026-05-11" in refused(by_card(his), "E-PSN-004")
    assert person(his, WANG_FANG)["baseinfo"]["psn_name"] == "王芳"  # ID still works


def test_operators_must_authenticate(http):
    assert http.post("/admin/v1/cards/BJ0000000001/loss").status_code == 401
    wrong = {"authorization": "Bearer not-a-token"}
    assert http.post("/admin/v1/cards/BJ0000000001/loss", headers=wrong).status_code == 401
    unknown = http.post("/admin/v1/cards/NOPE/loss", headers=CLERK)
    assert unknown.status_code == 404


def test_suspension_refuses_every_credential_until_lifted(http, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")])
    made = http.post(f"/admin/v1/persons/{psn_no}/suspensions", headers=ADMIN, json={
        "begin_date": "2026-05-01", "end_date": "2026-08-31",
        "reason": "lent the card to another person"})
    assert made.status_code == 201
    for answer in (by_card(his), his.call("1101", {"data": {
            "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG}})):
        message = refused(answer, "E-PSN-006")
        assert "until 2026-08-31" in message and "lent the card" in message
    settle = his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "10.00"))
    assert "manual reimbursement" in refused(settle, "E-PSN-006")
    lifted = http.delete(f"/admin/v1/suspensions/{made.json()['id']}", headers=ADMIN)
    assert lifted.status_code == 200
    ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "10.00")))
    trail = http.get(f"/admin/v1/persons/{psn_no}/audit", headers=AUDITOR).json()
    assert [e["kind"] for e in trail] == ["suspension_lifted", "suspended"]
    assert all(e["actor"] == "admin" for e in trail)


def test_a_suspension_needs_a_sane_period_and_a_reason(http, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    backwards = http.post(f"/admin/v1/persons/{psn_no}/suspensions", headers=ADMIN, json={
        "begin_date": "2026-08-01", "end_date": "2026-05-01", "reason": "x"})
    assert backwards.status_code == 400 and backwards.json()["code"] == "E-ENV-005"
    nobody = http.post("/admin/v1/persons/nobody/suspensions", headers=ADMIN, json={
        "begin_date": "2026-05-01", "end_date": "2026-06-01", "reason": "x"})
    assert nobody.status_code == 404
    assert person(his, WANG_FANG)["insuinfo"]  # nothing was suspended


def _suspensions(db) -> list[tuple]:
    from sqlalchemy import select

    from yibao.store.schema import operator_action, suspension
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(select(suspension).order_by(suspension.c.id))] + [
            tuple(r) for r in conn.execute(select(operator_action.c.id))]


def test_lifting_an_unknown_or_lifted_suspension_says_which(db, http, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    made = http.post(f"/admin/v1/persons/{psn_no}/suspensions", headers=ADMIN, json={
        "begin_date": "2026-05-01", "end_date": "2026-08-31", "reason": "lent the card"})
    before = _suspensions(db)
    unknown = http.delete("/admin/v1/suspensions/999999", headers=ADMIN)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "E-PSN-008")
    assert _suspensions(db) == before
    assert http.delete(f"/admin/v1/suspensions/{made.json()['id']}",
                       headers=ADMIN).status_code == 200
    lifted = _suspensions(db)
    again = http.delete(f"/admin/v1/suspensions/{made.json()['id']}", headers=ADMIN)
    assert (again.status_code, again.json()["code"]) == (409, "E-PSN-009")
    assert _suspensions(db) == lifted


def test_ids_and_cursors_past_the_column_range_are_refused_422(db, http, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    http.post(f"/admin/v1/persons/{psn_no}/suspensions", headers=ADMIN, json={
        "begin_date": "2026-05-01", "end_date": "2026-08-31", "reason": "lent the card"})
    before = _suspensions(db)
    for number in ("2147483648", "9223372036854775808", "99999999999999999999999"):
        lift = http.delete(f"/admin/v1/suspensions/{number}", headers=ADMIN)
        assert lift.status_code == 422, (number, lift.text)
        page = http.get(f"/admin/v1/audit?before={number}", headers=AUDITOR)
        assert page.status_code == 422, (number, page.text)
    assert _suspensions(db) == before
    largest = http.delete("/admin/v1/suspensions/2147483647", headers=ADMIN)
    assert (largest.status_code, largest.json()["code"]) == (404, "E-PSN-008")
    assert http.get("/admin/v1/audit?before=2147483647", headers=AUDITOR).status_code == 200


def test_the_audit_trail_of_an_unknown_person_is_404(http):
    for view in ("audit", "attestations"):
        nobody = http.get(f"/admin/v1/persons/NOPE/{view}", headers=AUDITOR)
        assert (nobody.status_code, nobody.json()["code"]) == (404, "E-PSN-001")


def test_a_suspension_overlapping_one_not_lifted_is_refused_until_that_one_is_lifted(db, http,
                                                                                     his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    url = f"/admin/v1/persons/{psn_no}/suspensions"
    made = http.post(url, headers=ADMIN, json={
        "begin_date": "2026-05-01", "end_date": "2026-08-31", "reason": "lent the card"})
    before = _suspensions(db)
    for begin, end in (("2026-08-31", "2026-09-30"), ("2026-04-01", "2026-05-01"),
                       ("2026-06-01", "2026-06-02"), ("2026-01-01", "2026-12-31")):
        overlap = http.post(url, headers=ADMIN, json={
            "begin_date": begin, "end_date": end, "reason": "again"})
        assert (overlap.status_code, overlap.json()["code"]) == (409, "E-PSN-010"), begin
        assert "2026-05-01..2026-08-31" in overlap.json()["detail"]
    assert _suspensions(db) == before
    after = http.post(url, headers=ADMIN, json={
        "begin_date": "2026-09-01", "end_date": "2026-09-30", "reason": "the next one"})
    assert after.status_code == 201
    assert http.delete(f"/admin/v1/suspensions/{made.json()['id']}",
                       headers=ADMIN).status_code == 200
    again = http.post(url, headers=ADMIN, json={
        "begin_date": "2026-06-01", "end_date": "2026-06-30", "reason": "lifted: room again"})
    assert again.status_code == 201
