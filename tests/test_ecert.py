"""The electronic certificate end to end: activation in a channel, the dynamic QR code,
the hospital's scan (1162), then 1101, registration and settlement with the ecToken, a
second settlement by physical card with the same amounts, and the refusals: replayed or
expired codes, another institution's or another business's token, PIN lockout."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from apps import FACE_OK, WANG, ChannelApp
from conftest import AUDITOR, CLERK, ROOT
from flows import WANG_FANG, line, ok, refused, upload
from yibao.api.channel import signature
from yibao.store.demo import demo_token
from yibao.store.schema import attestation, ecert


def scan(his, code: str, business: str = "01101") -> dict:
    return his.call("1162", {"data": {"ecQrCode": code, "businessType": business,
                                      "orgId": his.code, "operatorId": "001",
                                      "operatorName": "收费员", "officeId": "K01",
                                      "officeName": "内科"}})


def said(reply) -> tuple[int, str, str]:
    """The status, the code and the text a refusal says (``message``, or ``detail`` in
    problem details)."""
    body = reply.json()
    return reply.status_code, body["code"], body["detail"]


def token_for(his, app: ChannelApp, cert_id: str, business: str) -> str:
    code = app.qr(cert_id).json()["qr_code"]
    return str(ok(scan(his, code, business))["data"]["ecToken"])


def test_settle_with_the_certificate_then_with_the_card(http, his):
    app = ChannelApp(http)
    cert_id = app.activate()
    code = app.qr(cert_id).json()["qr_code"]
    assert WANG_FANG not in code and "王芳" not in code
    scanned = ok(scan(his, code, "01101"))["data"]
    assert (scanned["certno"], scanned["psn_name"]) == (WANG_FANG, "王芳")
    token = scanned["ecToken"]
    cred = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}
    info = ok(his.call("1101", {"data": cred}))
    psn_no = info["baseinfo"]["psn_no"]
    visit = ok(his.call("2201", {"data": dict(cred, psn_no=psn_no, insutype="310",
                                              begntime="2026-05-11 09:00:00",
                                              ipt_otp_no="E1")}))["data"]["mdtrt_id"]
    upload(his, visit, psn_no, [line("1", "XA01AAA0001", "1000.00", "3")])
    settle_token = token_for(his, app, cert_id, "01102")
    paid = ok(his.call("2207", {"data": {
        "psn_no": psn_no, "mdtrt_id": visit, "mdtrt_cert_type": "01",
        "mdtrt_cert_no": settle_token, "med_type": "11", "medfee_sumamt": "3000.00",
        "acct_used_flag": "1"}}))["setlinfo"]
    assert paid["mdtrt_cert_type"] == "01"
    # the same visit again, settled by card after cancelling: identical amounts
    ok(his.call("2208", {"data": {"setl_id": paid["setl_id"], "mdtrt_id": visit,
                                  "psn_no": psn_no}}))
    by_card = ok(his.call("2207", {"data": {
        "psn_no": psn_no, "mdtrt_id": visit, "mdtrt_cert_type": "03",
        "mdtrt_cert_no": "BJ0000000001", "card_sn": "SN0000000001", "med_type": "11",
        "medfee_sumamt": "3000.00", "acct_used_flag": "1"}}))["setlinfo"]
    money = [k for k, v in paid.items() if isinstance(v, (int, float)) and k != "age"]
    assert {k: Decimal(str(paid[k])) for k in money} == {
        k: Decimal(str(by_card[k])) for k in money}
    assert Decimal(str(by_card["hifob_pay"])) == Decimal("840.00")  # (3000-1800) x 70 %
    # the card is then reported lost: refused at once, the certificate still works
    lost = http.post("/admin/v1/cards/BJ0000000001/loss",
                     headers=CLERK)
    assert lost.status_code == 200
    refused(his.call("1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "BJ0000000001",
                                       "card_sn": "SN0000000001"}}), "E-PSN-004")
    fresh = token_for(his, app, cert_id, "01101")
    ok(his.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": fresh}}))


def test_codes_are_single_use_and_short_lived(http, his, clock):
    app = ChannelApp(http)
    cert_id = app.activate()
    code = app.qr(cert_id).json()["qr_code"]
    ok(scan(his, code))
    assert "already used" in refused(scan(his, code), "E-ECT-006")
    late = app.qr(cert_id).json()["qr_code"]
    clock.now += timedelta(seconds=61)
    assert "expired" in refused(scan(his, late), "E-ECT-006")
    refused(scan(his, "YB1" + "x" * 43), "E-ECT-006")


def test_token_bound_to_institution_business_and_time(http, his, his_factory, clock):
    app = ChannelApp(http)
    cert_id = app.activate()
    token = token_for(his, app, cert_id, "01101")
    cred = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}
    other = his_factory("H11010500002")
    refused(other.call("1101", {"data": cred}), "E-ECT-008")
    psn_no = ok(his.call("1101", {"data": cred}))["baseinfo"]["psn_no"]
    settle = {"data": {"psn_no": psn_no, "mdtrt_id": "M1", "mdtrt_cert_type": "01",
                       "mdtrt_cert_no": token, "medfee_sumamt": "1.00"}}
    # a registration token cannot settle (the visit check comes after the credential)
    assert refused(his.call("2207", settle), "E-VIS-001")  # unknown visit first
    visit = ok(his.call("2201", {"data": dict(cred, psn_no=psn_no, insutype="310",
                                              begntime="2026-05-11 09:00:00",
                                              ipt_otp_no="E2")}))["data"]["mdtrt_id"]
    upload(his, visit, psn_no, [line("1", "XA01AAA0001", "1.00")])
    settle["data"]["mdtrt_id"] = visit
    refused(his.call("2207", settle), "E-ECT-010")
    clock.now += timedelta(minutes=31)
    refused(his.call("1101", {"data": cred}), "E-ECT-009")
    refused(his.call("1101", {"data": {"mdtrt_cert_type": "01",
                                       "mdtrt_cert_no": "forged"}}), "E-ECT-007")


def test_the_documented_1162_message_scans_a_code(http, his):
    """docs/ecert.md spells out 1162's input with an example message: sent with a fresh
    code (and this test's envelope), it answers the token and the identity it lists."""
    page = (ROOT / "docs" / "ecert.md").read_text(encoding="utf-8")
    section = page[page.index("### 1162"):]
    example = json.loads(section[section.index("```json") + 7:section.index("```\n", 10)])
    documented = [row.split("`")[1] for row in section.splitlines()
                  if row.startswith("| `")][:9]
    assert list(example["input"]["data"]) == [f for f in documented if f not in (
        "businessInfo", "deviceType")]  # the example sends the required ones
    app = ChannelApp(http)
    data = dict(example["input"]["data"], ecQrCode=app.qr(app.activate()).json()["qr_code"])
    answer = ok(his.call(example["infno"], {"data": data}))["data"]
    assert set(answer) == {"ecToken", "psn_no", "psn_cert_type", "certno", "psn_name",
                           "idType", "idNo", "userName", "insuOrg"}
    assert len(answer["ecToken"]) == 43 and answer["userName"] == "王芳"


def test_five_wrong_pins_lock_until_a_real_person_reset(db, http, clock):
    """The same channel asserting ``real_person: true`` (or a check of no accepted method,
    a stale one, one from the future, one relied on before) unlocks nothing: only a fresh
    attestation of an accepted method does, and the person is told."""
    app = ChannelApp(http)
    cert_id = app.activate()
    unlock = f"until its PIN is reset with a real-person check (POST /channel/v1/" \
             f"certificates/{cert_id}/pin)"
    for left in (4, 3, 2, 1):  # each wrong PIN says how many attempts are left
        status, code, text = said(app.qr(cert_id, pin="000000"))
        plural = "s" if left > 1 else ""
        assert (status, code) == (403, "E-ECT-005")
        assert text.endswith(f"wrong PIN, {left} attempt{plural} left before the "
                             "certificate is locked"), text
    status, code, text = said(app.qr(cert_id, pin="000000"))  # the fifth locks
    assert (status, code) == (423, "E-ECT-004")
    assert text == f"E-ECT-004 certificate locked: wrong PIN, the 5th in a row: now locked " \
                   f"{unlock}"
    status, code, text = said(app.qr(cert_id))  # even the right PIN
    assert (status, code) == (423, "E-ECT-004")
    assert text == f"E-ECT-004 certificate locked: locked since {clock.now:%Y-%m-%d %H:%M} " \
                   f"after 5 wrong PINs, {unlock}"
    path = f"/channel/v1/certificates/{cert_id}/pin"
    used = app.attestation()
    assert app.post(path, {"new_pin": "135791", "real_person": used}).status_code == 200
    for _ in range(5):
        app.qr(cert_id, pin="000000")  # locked again
    for bare in (True, {"verified": True, "method": "none"}, {"verified": True},
                 app.attestation("sms_code"), app.attestation(evidence_ref="x"),
                 app.attestation(attested_at=str(clock.now - timedelta(minutes=11))),
                 app.attestation(attested_at=str(clock.now + timedelta(seconds=1))),
                 used):  # a check already relied on
        no_face = app.post(path, {"new_pin": "246810", "real_person": bare})
        assert no_face.status_code == 400 and no_face.json()["code"] == "E-ECT-012", bare
    assert app.qr(cert_id, pin="246810").json()["code"] == "E-ECT-004"  # still locked
    with db.read() as conn:
        assert conn.execute(select(ecert.c.locked_at)).scalar_one() is not None
        assert conn.execute(select(func.count()).select_from(attestation)).scalar_one() == 2
    reset = app.post(path, {"new_pin": "246810", "real_person": app.attestation("id_card_nfc")})
    assert reset.status_code == 200
    assert app.qr(cert_id, pin="246810").status_code == 200
    assert [n["kind"] for n in app.notices(cert_id, "246810")] == [
        "unlocked", "unlocked", "activated"]


def test_a_pin_that_is_not_six_digits_is_bad_input_and_not_counted(db, http):
    """400 with its own code wherever a PIN is sent (a wrong PIN is 403): the QR code, the
    person's own data, a PIN reset; the certificate's wrong-PIN count does not move."""
    app = ChannelApp(http)
    cert_id = app.activate()
    base = f"/channel/v1/certificates/{cert_id}"
    for pin in ("12345", "1234567", "12345a", "１３５７９０"):
        assert said(app.qr(cert_id, pin=pin))[:2] == (400, "E-ECT-025"), pin
        listed = app.post(f"{base}/notifications/list", {"pin": pin})
        assert said(listed)[:2] == (400, "E-ECT-025"), pin
    reset = app.post(f"{base}/pin", {"new_pin": "13579", "real_person": app.attestation()})
    assert said(reset)[:2] == (400, "E-ECT-025")
    with db.read() as conn:
        assert conn.execute(select(ecert.c.pin_failures)).scalar_one() == 0
    assert said(app.qr(cert_id, pin="000000"))[:2] == (403, "E-ECT-005")
    assert app.qr(cert_id).status_code == 200


def test_activation_checks_and_several_channels(http):
    bj, wechat = ChannelApp(http), ChannelApp(http, "CH-WECHAT")
    wrong_name = bj.post("/channel/v1/certificates", dict(WANG, name="王小芳", pin="135790",
                                                           real_person=FACE_OK))
    assert wrong_name.status_code == 400 and wrong_name.json()["code"] == "E-ECT-001"
    wrong_place = bj.post("/channel/v1/certificates", dict(WANG, insured_place="130102",
                                                            pin="135790",
                                                            real_person=FACE_OK))
    assert wrong_place.json()["code"] == "E-ECT-001"
    weak_pin = bj.post("/channel/v1/certificates", dict(WANG, pin="12ab",
                                                         real_person=FACE_OK))
    assert said(weak_pin) == (400, "E-ECT-025", "E-ECT-025 PIN is not 6 digits: the PIN "
                              "sent has 4 characters, not 6 digits 0-9")
    for pin in ("１３５７９０", "١٣٥٧٩٠", "²³⁵⁷⁹⁰"):  # digits to str.isdigit, not 0-9
        odd_pin = bj.post("/channel/v1/certificates", dict(WANG, pin=pin, real_person=FACE_OK))
        assert said(odd_pin)[:2] == (400, "E-ECT-025")
    first, second = bj.activate(), wechat.activate()
    twice = bj.post("/channel/v1/certificates", dict(WANG, pin="135790", real_person=FACE_OK))
    assert twice.status_code == 409
    gone = bj.post(f"/channel/v1/certificates/{first}/deactivation")
    assert gone.status_code == 200
    assert bj.qr(first).status_code == 404
    assert wechat.qr(second).status_code == 200  # the other channel is unaffected
    assert wechat.qr(first).status_code == 404  # and cannot use another channel's id


@pytest.mark.parametrize("tamper", ["secret", "replay", "stale", "superscript"])
def test_channel_requests_must_be_signed_fresh_and_unique(http, tamper):
    app = ChannelApp(http)
    body = dict(WANG, pin="135790", real_person=FACE_OK)
    if tamper == "secret":
        reply = app.post("/channel/v1/certificates", body, secret="guessed")
    elif tamper == "replay":
        assert app.post("/channel/v1/certificates", body, nonce="same").status_code == 201
        reply = app.post("/channel/v1/certificates", body, nonce="same")
    else:
        raw = json.dumps(body).encode()
        ts = str(int(time.time()) - 301) if tamper == "stale" else "²"
        reply = http.post("/channel/v1/certificates", content=raw, headers={
            "x-yb-channel": "CH-BJAPP", "x-yb-timestamp": ts.encode("latin-1"),
            "x-yb-nonce": "old",
            "x-yb-signature": signature(demo_token("CH-BJAPP"), "POST",
                                        "/channel/v1/certificates", ts, "old", raw)})
    assert reply.status_code == 401


def test_pharmacy_and_inpatient_with_the_certificate(http, his, his_factory):
    from flows import admit

    app = ChannelApp(http)
    cert_id = app.activate()
    pharmacy = his_factory("P11010500001")
    token = token_for(pharmacy, app, cert_id, "02101")
    cred = {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}
    psn_no = ok(pharmacy.call("1101", {"data": cred}))["baseinfo"]["psn_no"]
    visit = ok(pharmacy.call("2201", {"data": dict(cred, psn_no=psn_no, insutype="310",
                                                   begntime="2026-05-11 09:00:00",
                                                   ipt_otp_no="RX1")}))["data"]["mdtrt_id"]
    upload(pharmacy, visit, psn_no, [line("1", "XB02BBB0002", "30.00")])
    bought = ok(pharmacy.call("2207", {"data": dict(cred, psn_no=psn_no, mdtrt_id=visit,
                                                    med_type="41", medfee_sumamt="30.00",
                                                    acct_used_flag="1")}))["setlinfo"]
    assert Decimal(str(bought["acct_pay"])) == 30 and bought["clr_type"] == "41"
    stay = admit(his, psn_no, WANG_FANG)  # admitted by ID number
    upload(his, stay, psn_no, [line("1", "XA01AAA0001", "10000.00")], infno="2301")
    ipt = token_for(his, app, cert_id, "01202")
    final = ok(his.call("2304", {"data": {"psn_no": psn_no, "mdtrt_id": stay,
                                          "mdtrt_cert_type": "01", "mdtrt_cert_no": ipt,
                                          "medfee_sumamt": "10000.00", "mid_setl_flag": "0",
                                          "acct_used_flag": "0"}}))["setlinfo"]
    assert Decimal(str(final["hifp_pay"])) == Decimal("7395.00")  # (10000-1300) x 85 %


def test_audit_trail_names_events_not_secrets(http, his):
    app = ChannelApp(http)
    cert_id = app.activate()
    token = token_for(his, app, cert_id, "01101")
    psn_no = ok(his.call("1101", {"data": {"mdtrt_cert_type": "01",
                                           "mdtrt_cert_no": token}}))["baseinfo"]["psn_no"]
    for _ in range(5):
        app.qr(cert_id, pin="999999")
    trail = http.get(f"/admin/v1/persons/{psn_no}/audit",
                     headers=AUDITOR).json()
    kinds = [event["kind"] for event in reversed(trail)]
    assert kinds == ["ecert_activated", "qr_issued", "qr_scanned", "token_used", "pin_locked",
                     "tokens_revoked"]  # the PIN lock revoked the token issued before
    text = json.dumps(trail, ensure_ascii=False)
    for secret in (token, WANG_FANG, "王芳", "135790", "999999"):
        assert secret not in text


def test_family_binding_shows_a_relatives_code_with_consent(http, his):
    app = ChannelApp(http)
    cert_id = app.activate()
    father = {"name": "李建国", "certno": "11010219600620003X", "relation": "parent"}
    made = app.post(f"/channel/v1/certificates/{cert_id}/family", father)
    assert made.status_code == 201 and made.json()["status"] == "pending"
    binding = made.json()["binding_id"]
    his_app = ChannelApp(http, "CH-WECHAT")  # the father accepts from his own certificate
    his_cert = his_app.activate(pin="246810", name="李建国", certno="11010219600620003X")
    accepted = his_app.post(
        f"/channel/v1/certificates/{his_cert}/family-requests/{binding}/acceptance",
        {"pin": "246810", "real_person": his_app.attestation()})
    assert accepted.status_code == 200, accepted.text
    path = f"/channel/v1/certificates/{cert_id}/family/{binding}/qr"
    code = app.post(path, {"pin": "135790"}).json()["qr_code"]
    scanned = ok(scan(his, code))["data"]
    assert (scanned["psn_name"], scanned["certno"]) == ("李建国", "11010219600620003X")
    assert app.post(path, {"pin": "000000"}).status_code == 403  # the holder's PIN
    removed = app.post(f"/channel/v1/certificates/{cert_id}/family/{binding}/removal")
    assert removed.status_code == 200
    assert app.post(path, {"pin": "135790"}).status_code == 404
