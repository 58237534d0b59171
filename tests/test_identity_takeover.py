"""What a channel, a stranger or an old code cannot do to a person's identity
(docs/security.md, "Channels" and "Tokens and credentials"): the attacks a review of
issue 13 found, each performed through the channel API, the operators' API or the
hospital's 1162/1101, refused with its code, and nothing changed; on both databases."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import insert, select

from apps import ChannelApp
from conftest import ADMIN, AUDITOR, CLERK
from faces import astronaut, lfw
from flows import LI_JIANGUO, WANG_FANG, ok, refused
from test_ecert import scan
from test_face import recog
from test_trust import CERTS, CHILD, add_person, answer, bound_child, count
from yibao.store.schema import (
    attestation,
    audit_event,
    card,
    ec_token,
    face_template,
    family_binding,
    insurance,
    operator_action,
    person_notice,
)

WANG_PSN = "11000000000000000001"
PIN = "135790"


def sealed_face(db) -> bytes:
    with db.read() as conn:
        return bytes(conn.execute(select(face_template.c.sealed).where(
            face_template.c.psn_no == WANG_PSN)).scalar_one())


def kinds(app: ChannelApp, cert_id: str, pin: str = PIN) -> list[str]:
    return [n["kind"] for n in app.notices(cert_id, pin)]


def test_a_channel_cannot_replace_her_face_without_her_pin_and_a_fresh_check(db, http, his):
    """Observed: the channel re-enrolled another face with no PIN and no real-person check;
    the other face then matched in 9601, and she was not told."""
    app = ChannelApp(http)
    cert_id = app.activate()
    path = f"{CERTS}/{cert_id}/face"
    assert answer(app.post(path, {"image": astronaut(), "pin": PIN})) == (400, "E-ECT-012")
    assert count(db, face_template) == 0
    first = app.post(path, {"image": astronaut(), "pin": PIN,
                            "real_person": app.attestation()})
    assert first.status_code == 200 and first.json()["face"] == "enrolled"
    assert "face_enrolled" in kinds(app, cert_id)
    before = sealed_face(db)
    checks = count(db, attestation, attestation.c.purpose == "face")

    attacker = lfw(7)  # another person (tests/test_face.py: refused against her)
    no_pin = app.post(path, {"image": attacker})
    assert no_pin.status_code == 422  # the PIN is required
    assert answer(app.post(path, {"image": attacker, "pin": "000000",
                                  "real_person": app.attestation()})) == (403, "E-ECT-005")
    assert answer(app.post(path, {"image": attacker, "pin": PIN})) == (400, "E-ECT-012")
    assert answer(app.post(path, {"image": attacker, "pin": PIN,
                                  "real_person": True})) == (400, "E-ECT-012")
    stale = app.attestation(attested_at=(app.now() - timedelta(minutes=11)).isoformat())
    assert answer(app.post(path, {"image": attacker, "pin": PIN,
                                  "real_person": stale})) == (400, "E-ECT-012")
    assert sealed_face(db) == before
    assert count(db, attestation, attestation.c.purpose == "face") == checks
    assert count(db, audit_event, audit_event.c.kind == "face_replaced") == 0
    refused(recog(his, WANG_PSN, attacker), "E-FACE-004")
    assert count(db, ec_token) == 0

    # she replaces it herself: PIN and a fresh check, recorded, audited, told everywhere
    elsewhere = ChannelApp(http, "CH-WECHAT")
    other_cert = elsewhere.activate()
    again = app.post(path, {"image": astronaut(brightness=0.9), "pin": PIN,
                            "real_person": app.attestation()})
    assert again.status_code == 200 and again.json()["face"] == "replaced"
    assert sealed_face(db) != before
    assert count(db, attestation, attestation.c.purpose == "face") == checks + 1
    assert count(db, audit_event, audit_event.c.kind == "face_replaced") == 1
    assert kinds(elsewhere, other_cert)[0] == "face_replaced"


def test_a_strangers_child_is_not_bound_on_her_word(db, http, his):
    """Observed: any adult bound a stranger's child at once and obtained codes for it."""
    add_person(db, CHILD["certno"], CHILD["name"], date(2015, 3, 15))
    app = ChannelApp(http)
    cert_id = app.activate()
    family = f"{CERTS}/{cert_id}/family"
    made = app.post(family, dict(CHILD, real_person=app.attestation()))
    assert made.status_code == 201 and made.json()["status"] == "pending"
    binding = made.json()["binding_id"]
    assert answer(app.post(f"{family}/{binding}/qr", {"pin": PIN})) == (404, "E-ECT-021")
    assert count(db, family_binding, family_binding.c.status == "active") == 0
    assert count(db, ec_token) == 0

    confirm = f"/admin/v1/family-bindings/{binding}/guardianship"
    assert http.post(confirm, headers=AUDITOR, json={"reason": "x"}).status_code == 403
    assert http.post(confirm, headers=CLERK, json={"reason": ""}).status_code == 422
    assert answer(http.post("/admin/v1/family-bindings/FB-nope/guardianship", headers=CLERK,
                            json={"reason": "register seen"})) == (404, "E-ECT-021")
    assert count(db, family_binding, family_binding.c.status == "active") == 0
    assert count(db, operator_action, operator_action.c.action == "family.guardianship") == 0
    assert http.post(confirm, headers=CLERK,
                     json={"reason": "household register seen"}).status_code == 200
    with db.read() as conn:
        logged = conn.execute(select(operator_action).where(
            operator_action.c.action == "family.guardianship")).mappings().one()
    assert logged["role"] == "clerk" and "household register seen" in logged["detail"]
    ok(scan(his, app.post(f"{family}/{binding}/qr", {"pin": PIN}).json()["qr_code"]))

    # a second holder (her husband, say) may be bound too; a third holder never
    father = ChannelApp(http, "CH-WECHAT")
    li = father.activate(pin="246810", name="李建国", certno=LI_JIANGUO)
    second = father.post(f"{CERTS}/{li}/family",
                         dict(CHILD, real_person=father.attestation())).json()["binding_id"]
    third_holder = ChannelApp(http, "CH-ALIPAY")
    zhang = insured_holder(db, third_holder, 0)
    third = third_holder.post(f"{CERTS}/{zhang}/family",
                              dict(CHILD, real_person=third_holder.attestation()))
    assert third.status_code == 201  # pending: two holders are not bound yet
    assert http.post(f"/admin/v1/family-bindings/{second}/guardianship", headers=CLERK,
                     json={"reason": "birth certificate seen"}).status_code == 200
    third_confirm = f"/admin/v1/family-bindings/{third.json()['binding_id']}/guardianship"
    assert answer(http.post(third_confirm, headers=CLERK, json={"reason": "seen"})) == (
        409, "E-ECT-022")
    assert count(db, family_binding, family_binding.c.status == "active") == 2
    assert count(db, family_binding, family_binding.c.status == "pending") == 1
    assert answer(third_holder.post(f"{CERTS}/{zhang}/family/{third.json()['binding_id']}"
                                    "/removal")) == (200, "")
    assert answer(third_holder.post(f"{CERTS}/{zhang}/family", dict(
        CHILD, real_person=third_holder.attestation()))) == (409, "E-ECT-022")
    assert count(db, family_binding) == 3


def insured_holder(db, app: ChannelApp, i: int) -> str:
    """An adult insured in Beijing (not in the demo dataset) with a certificate in ``app``."""
    certno = f"11010119700101{i:03d}7"
    add_person(db, certno, f"路人{i}", date(1970, 1, 1))
    with db.write() as conn:
        conn.execute(insert(insurance).values(
            psn_no=f"1100009{certno[-13:]}", insutype="310", psn_type="11",
            psn_insu_stas="1", psn_insu_date=date(2000, 1, 1)))
    return app.activate(name=f"路人{i}", certno=certno)


def use(his, token: str) -> dict:
    return his.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token,
                                      "card_sn": "", "psn_name": ""}})


def relative_token(db, http, his) -> tuple[ChannelApp, str, str, str]:
    """Her certificate, her child's binding and a token issued through it (in use)."""
    app = ChannelApp(http)
    cert_id = app.activate()
    binding = bound_child(db, http, app, cert_id)
    code = app.post(f"{CERTS}/{cert_id}/family/{binding}/qr", {"pin": PIN}).json()["qr_code"]
    token = ok(scan(his, code))["data"]["ecToken"]
    assert ok(use(his, token))["baseinfo"]["certno"] == CHILD["certno"]
    return app, cert_id, binding, token


def test_a_relatives_token_dies_when_the_binding_is_removed(db, http, his):
    """Observed: the child's ecToken kept working after the binding was removed."""
    app, cert_id, binding, token = relative_token(db, http, his)
    own = ok(scan(his, app.qr(cert_id).json()["qr_code"]))["data"]["ecToken"]
    assert app.post(f"{CERTS}/{cert_id}/family/{binding}/removal").status_code == 200
    assert "family binding ended" in refused(use(his, token), "E-ECT-020")
    ok(use(his, own))  # her own token is not the binding's
    assert count(db, ec_token, ec_token.c.revoked_at.is_not(None)) == 1


def test_a_relatives_token_dies_when_he_withdraws_his_consent(db, http, his):
    app = ChannelApp(http)
    cert_id = app.activate()
    request = app.post(f"{CERTS}/{cert_id}/family", {
        "name": "李建国", "certno": LI_JIANGUO, "relation": "parent"}).json()["binding_id"]
    father = ChannelApp(http, "CH-WECHAT")
    li = father.activate(pin="246810", name="李建国", certno=LI_JIANGUO)
    assert father.post(f"{CERTS}/{li}/family-requests/{request}/acceptance", {
        "pin": "246810", "real_person": father.attestation()}).status_code == 200
    code = app.post(f"{CERTS}/{cert_id}/family/{request}/qr", {"pin": PIN}).json()["qr_code"]
    token = ok(scan(his, code))["data"]["ecToken"]
    assert father.post(f"{CERTS}/{li}/family-requests/{request}/withdrawal",
                       {"pin": "246810"}).status_code == 200
    refused(use(his, token), "E-ECT-020")


def test_a_relatives_token_dies_with_the_holders_deactivation(db, http, his):
    """Observed: the child's ecToken registered a visit after her certificate was gone."""
    app, cert_id, _binding, token = relative_token(db, http, his)
    assert app.post(f"{CERTS}/{cert_id}/deactivation").status_code == 200
    assert "deactivated" in refused(use(his, token), "E-ECT-020")


def test_a_relatives_token_dies_with_the_holders_pin_lock(db, http, his):
    app, cert_id, _binding, token = relative_token(db, http, his)
    for _ in range(5):
        app.qr(cert_id, pin="000000")
    assert "locked" in refused(use(his, token), "E-ECT-020")


def test_a_code_shown_before_a_pin_lock_makes_no_token(db, http, his):
    """Observed: a QR code issued before five wrong PINs was scanned into a fresh token."""
    app = ChannelApp(http)
    cert_id = app.activate()
    code = app.qr(cert_id).json()["qr_code"]
    for _ in range(5):
        app.qr(cert_id, pin="000000")
    assert answer(app.qr(cert_id)) == (423, "E-ECT-004")
    refused(scan(his, code, "01102"), "E-ECT-004")
    assert count(db, ec_token) == 0


def test_a_code_shown_before_a_card_loss_or_suspension_makes_no_token(db, http, his, clock):
    app = ChannelApp(http)
    cert_id = app.activate()
    code = app.qr(cert_id).json()["qr_code"]
    clock.now += timedelta(seconds=5)
    with db.read() as conn:
        card_no = conn.execute(select(card.c.card_no).where(card.c.psn_no == WANG_PSN)
                               ).scalars().first()
    assert http.post(f"/admin/v1/cards/{card_no}/loss", headers=CLERK).status_code == 200
    assert "lost" in refused(scan(his, code), "E-ECT-006")
    fresh = app.qr(cert_id).json()["qr_code"]  # her certificate still works: a new code
    clock.now += timedelta(seconds=5)
    ok(scan(his, fresh))
    assert count(db, ec_token) == 1
    shown = app.qr(cert_id).json()["qr_code"]
    today = clock.now.date().isoformat()
    assert http.post(f"/admin/v1/persons/{WANG_PSN}/suspensions", headers=ADMIN, json={
        "begin_date": today, "end_date": today, "reason": "card lent"}).status_code == 201
    refused(scan(his, shown), "E-PSN-006")
    assert count(db, ec_token) == 1


def test_flooding_her_notices_is_refused_and_every_notice_stays_readable(db, http, his):
    """Observed: a stranger requested and removed a binding of her 55 times; her list
    (capped at 100, not paged) no longer showed that another channel had activated."""
    victim = ChannelApp(http)
    cert_id = victim.activate()
    ChannelApp(http, "CH-WECHAT").activate()  # notice activated_in_new_channel
    stranger = ChannelApp(http, "CH-ALIPAY")
    scert = stranger.activate(pin=PIN, name="李建国", certno=LI_JIANGUO)
    ask = {"name": "王芳", "certno": WANG_FANG, "relation": "other"}
    for _ in range(3):
        made = stranger.post(f"{CERTS}/{scert}/family", ask)
        assert made.status_code == 201, made.text
        stranger.post(f"{CERTS}/{scert}/family/{made.json()['binding_id']}/removal")
    assert answer(stranger.post(f"{CERTS}/{scert}/family", ask)) == (429, "E-ECT-023")
    assert count(db, family_binding) == 3
    # strangers together: at most 5 requests to her a day
    for i in range(2):
        holder = ChannelApp(http, "CH-ALIPAY")
        assert holder.post(f"{CERTS}/{insured_holder(db, holder, i)}/family",
                           ask).status_code == 201
    sixth = ChannelApp(http, "CH-ALIPAY")
    assert answer(sixth.post(f"{CERTS}/{insured_holder(db, sixth, 9)}/family", ask)) == (
        429, "E-ECT-023")
    assert count(db, family_binding) == 5
    notices = count(db, person_notice, person_notice.c.psn_no == WANG_PSN)

    # every notice is reachable a page at a time
    path = f"{CERTS}/{cert_id}/notifications/list"
    seen = []
    for offset in range(0, notices + 2, 2):
        page = victim.post(path, {"pin": PIN, "limit": 2, "offset": offset})
        assert page.status_code == 200
        seen += [n["kind"] for n in page.json()]
    assert len(seen) == notices and seen[-1] == "activated"
    assert "activated_in_new_channel" in seen
    assert victim.post(path, {"pin": PIN, "limit": 101}).status_code == 422
