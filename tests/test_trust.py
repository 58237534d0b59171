"""What a channel may assert, and what needs the person (docs/security.md, "Channels"):
each attack of issue 13 performed through the channel API (and the hospital's 1162),
refused with its code, and nothing changed; on both databases."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, insert, select, update

from apps import PAYEE, WANG, ChannelApp
from concurrency import run_threads
from conftest import AUDITOR as AUTH
from conftest import CLERK
from flows import LI_JIANGUO, LIU_YANG, WANG_FANG, ZHANG_DEMING, ok, refused
from test_ecert import scan
from test_reimbursement import declare_fault, fault_bill, psn
from yibao.api.channel_gate import channel_call
from yibao.domain.trust import Attestation
from yibao.services import ecert as ecert_service
from yibao.services.context import Ids
from yibao.store.schema import (
    attestation,
    claim,
    ec_token,
    ecert,
    family_binding,
    payee_account,
    person,
    person_notice,
    qr_code,
)

CERTS = "/channel/v1/certificates"


def count(db, table, *where) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def answer(reply) -> tuple[int, str]:
    return reply.status_code, reply.json().get("code", "")


def add_person(db, certno: str, name: str, birth: date) -> None:
    """Someone insured in Beijing (not in the demo dataset)."""
    with db.write() as conn:
        conn.execute(insert(person).values(
            psn_no=f"1100009{certno[-13:]}", psn_cert_type="01", certno=certno, name=name,
            gend="1", naty="01", brdy=birth, insuplc_admdvs="110000"))


def test_a_second_channel_needs_a_real_check_and_starts_in_a_first_period(db, http, his, clock):
    """Observed: a second channel activated her with name, ID number and ``method: none``,
    saw her eligible bill and claimed it to an account of its choosing."""
    bj, other = ChannelApp(http), ChannelApp(http, "CH-WECHAT")
    first = bj.activate()
    psn_no = psn(his)
    declare_fault(his)
    ok(fault_bill(his, psn_no, "INV-T1", "2000.00", "2026-05-11 08:30:00"))
    stale = other.attestation(attested_at=(clock.now - timedelta(minutes=11)).isoformat())
    for weak in (True, {"verified": True, "method": "none"}, other.attestation("sms"), stale,
                 other.attestation(attested_at=(clock.now + timedelta(minutes=1)).isoformat())):
        reply = other.post(CERTS, dict(WANG, pin="135790", real_person=weak))
        assert answer(reply) == (400, "E-ECT-012"), weak
    assert count(db, ecert) == 1 and count(db, attestation) == 1

    second = other.activate()  # a real check: allowed, but the person is told everywhere
    [told] = [n for n in bj.notices(first) if n["kind"] == "activated_in_new_channel"]
    assert told["channel_id"] == "CH-WECHAT" and "CH-BJAPP" in told["detail"]
    assert "2026-05-12 09:30:00" in told["detail"]
    assert other.notices(second)[0] == told  # readable in the new channel too, newest first

    for path, body in ((f"{CERTS}/{second}/claims/list", {"pin": "135790"}),
                       (f"{CERTS}/{second}/claims", {
                           "pin": "135790", "reason": "fault", "fixmedins_code": "H11010500001",
                           "invono": "INV-T1", "payee": {"bank_name": "某银行",
                                                         "bank_account": "6222999900001111"}}),
                       (f"{CERTS}/{second}/payee", dict(
                           PAYEE, pin="135790", account_name="王芳",
                           real_person=other.attestation())),
                       (f"{CERTS}/{second}/filings/list", {"pin": "135790"}),
                       (f"{CERTS}/{second}/family", {"name": "李建国", "certno": LI_JIANGUO,
                                                     "relation": "parent"})):
        reply = other.post(path, body)
        assert answer(reply) == (403, "E-ECT-013"), path
        assert "2026-05-12 09:30:00" in reply.json()["detail"]
    assert other.qr(second).status_code == 200  # her own code, shown to her, still works
    with db.read() as conn:
        assert conn.execute(select(claim.c.status, claim.c.bank_account)).one() == (
            "eligible", "")
    assert count(db, payee_account) == 0 and count(db, family_binding) == 0

    clock.now += timedelta(hours=24)  # the first period is over
    assert other.post(f"{CERTS}/{second}/claims/list", {"pin": "135790"}).status_code == 200


def test_an_app_claim_pays_only_to_the_registered_payee_in_her_name(db, http, his):
    """Observed: a claim paid to an account the channel chose."""
    app = ChannelApp(http)
    cert_id = app.activate()
    psn_no = psn(his)
    declare_fault(his)
    ok(fault_bill(his, psn_no, "INV-T2", "2000.00", "2026-05-11 08:30:00"))
    apply = {"pin": "135790", "reason": "fault", "fixmedins_code": "H11010500001",
             "invono": "INV-T2"}
    assert answer(app.post(f"{CERTS}/{cert_id}/claims", dict(apply, payee=PAYEE))) == (
        409, "E-ECT-015")  # nothing registered yet
    payee_path = f"{CERTS}/{cert_id}/payee"
    other_name = dict(PAYEE, pin="135790", account_name="李四", real_person=app.attestation())
    assert answer(app.post(payee_path, other_name)) == (400, "E-ECT-014")
    bare = dict(PAYEE, pin="135790", account_name="王芳", real_person=True)
    assert answer(app.post(payee_path, bare)) == (400, "E-ECT-012")
    assert count(db, payee_account) == 0

    first = app.register_payee(cert_id)
    assert (first["change"], first["set_by"], first["bank_account"]) == (
        "first", "CH-BJAPP", "****4567")
    elsewhere = {"bank_name": "某银行", "bank_account": "6222999900001111"}
    assert answer(app.post(f"{CERTS}/{cert_id}/claims", dict(apply, payee=elsewhere))) == (
        409, "E-ECT-015")
    with db.read() as conn:
        assert conn.execute(select(claim.c.status)).scalar_one() == "eligible"
    claim_id = app.post(f"{CERTS}/{cert_id}/claims", apply).json()["claim_id"]

    reused = dict(PAYEE, pin="135790", account_name="王芳", bank_account="6222020200007654321",
                  real_person=app.attestation(evidence_ref=_ref_of(db, "payee")))
    assert answer(app.post(payee_path, reused)) == (400, "E-ECT-012")  # a fresh check
    changed = app.register_payee(cert_id, bank_account="6222020200007654321")
    assert changed["change"] == "changed" and changed["bank_account"] == "****4321"

    seen = http.get(f"/admin/v1/claims/{claim_id}", headers=AUTH).json()
    assert seen["payee"]["set_by"] == "CH-BJAPP" and seen["payee"]["change"] == "first"
    assert seen["payee"]["set_at"] == "2026-05-11 09:30:00"
    assert seen["payee"]["replaced_at"] == "2026-05-11 09:30:00"  # changed since
    assert seen["bank_account"] == "****4567"  # the claim keeps the account it was made to
    kinds = [n["kind"] for n in app.notices(cert_id)]
    assert kinds[:2] == ["payee_changed", "payee_set"]
    audit = http.get(f"/admin/v1/persons/{psn_no}/audit", headers=AUTH).json()
    assert [e["kind"] for e in audit][:2] == ["payee_changed", "payee_set"]
    assert "6222020200007654321" not in str(audit)
    listed = http.get(f"/admin/v1/persons/{psn_no}/attestations", headers=AUTH).json()
    assert [(a["purpose"], a["channel_id"], a["method"]) for a in listed] == [
        ("payee", "CH-BJAPP", "bank_card_four"), ("payee", "CH-BJAPP", "bank_card_four"),
        ("activation", "CH-BJAPP", "face_liveness")]
    assert http.get(f"/admin/v1/persons/{psn_no}/attestations").status_code == 401


def _ref_of(db, purpose: str) -> str:
    with db.read() as conn:
        return str(conn.execute(select(attestation.c.evidence_ref).where(
            attestation.c.purpose == purpose)).scalar_one())


def test_a_binding_needs_the_relatives_own_acceptance_and_is_plausible(db, http, his):
    """Observed: a holder bound three strangers as "parent" (one younger than her),
    duplicates allowed, no limit."""
    app = ChannelApp(http)
    cert_id = app.activate()
    family = f"{CERTS}/{cert_id}/family"

    def bind(certno: str, name: str, relation: str = "parent", **more):
        return app.post(family, {"name": name, "certno": certno, "relation": relation, **more})

    assert answer(bind(LIU_YANG, "刘洋")) == (400, "E-ECT-016")  # a "parent" 5 years younger
    assert answer(bind(LI_JIANGUO, "李建国", "child")) == (400, "E-ECT-016")
    father = bind(LI_JIANGUO, "李建国")
    assert father.status_code == 201 and father.json()["status"] == "pending"
    binding = father.json()["binding_id"]
    assert answer(bind(LI_JIANGUO, "李建国")) == (409, "E-ECT-017")
    assert answer(bind(LI_JIANGUO, "李建国", "other")) == (409, "E-ECT-017")
    assert answer(app.post(f"{family}/{binding}/qr", {"pin": "135790"})) == (404, "E-ECT-021")
    assert bind(ZHANG_DEMING, "张德明", "other").status_code == 201
    for i in range(3):
        add_person(db, f"11010119700101{i:03d}1", f"路人{i}", date(1970, 1, 1))
        assert bind(f"11010119700101{i:03d}1", f"路人{i}", "other").status_code == 201
    add_person(db, "110101197001019991", "路人9", date(1970, 1, 1))
    assert answer(bind("110101197001019991", "路人9", "other")) == (409, "E-ECT-018")
    assert count(db, family_binding) == 5
    assert count(db, family_binding, family_binding.c.status == "active") == 0

    stranger = ChannelApp(http, "CH-ALIPAY")  # someone else cannot accept it for him
    liu = stranger.activate(pin="112233", name="刘洋", certno=LIU_YANG)
    accept = f"{CERTS}/{liu}/family-requests/{binding}/acceptance"
    reply = stranger.post(accept, {"pin": "112233", "real_person": stranger.attestation()})
    assert answer(reply) == (404, "E-ECT-019")
    his_app = ChannelApp(http, "CH-WECHAT")
    li = his_app.activate(pin="246810", name="李建国", certno=LI_JIANGUO)
    assert [n["kind"] for n in his_app.notices(li, "246810")][1] == "family_requested"
    accept = f"{CERTS}/{li}/family-requests/{binding}/acceptance"
    reply = his_app.post(accept, {"pin": "246810", "real_person": True})  # a bare flag
    assert answer(reply) == (400, "E-ECT-012")
    assert count(db, family_binding, family_binding.c.status == "active") == 0
    reply = his_app.post(accept, {"pin": "246810", "real_person": his_app.attestation()})
    assert reply.status_code == 200
    code = app.post(f"{family}/{binding}/qr", {"pin": "135790"}).json()["qr_code"]
    assert "family_accepted" in [n["kind"] for n in app.notices(cert_id)]

    # he withdraws his consent from his own certificate: the code issued meanwhile is void
    withdrawal = f"{CERTS}/{li}/family-requests/{binding}/withdrawal"
    assert answer(stranger.post(f"{CERTS}/{liu}/family-requests/{binding}/withdrawal",
                                {"pin": "112233"})) == (404, "E-ECT-019")
    assert his_app.post(withdrawal, {"pin": "246810"}).status_code == 200
    refused(scan(his, code), "E-ECT-006")
    assert answer(app.post(f"{family}/{binding}/qr", {"pin": "135790"})) == (404, "E-ECT-021")
    assert count(db, family_binding, family_binding.c.status == "active") == 0


CHILD = {"name": "王小明", "certno": "110105201503150011", "relation": "child"}


def bound_child(db, http, app: ChannelApp, cert_id: str) -> str:
    """王小明 (8) bound to the holder: requested with her check, confirmed by a clerk."""
    add_person(db, CHILD["certno"], CHILD["name"], date(2015, 3, 15))
    made = app.post(f"{CERTS}/{cert_id}/family", dict(CHILD, real_person=app.attestation()))
    assert made.status_code == 201 and made.json()["status"] == "pending", made.text
    binding = made.json()["binding_id"]
    confirmed = http.post(f"/admin/v1/family-bindings/{binding}/guardianship",
                          headers=CLERK, json={"reason": "household register seen"})
    assert confirmed.status_code == 200, confirmed.text
    return str(binding)


def test_a_minor_child_is_bound_only_once_a_clerk_saw_the_guardianship(db, http):
    add_person(db, CHILD["certno"], CHILD["name"], date(2015, 3, 15))
    app = ChannelApp(http)
    cert_id = app.activate()
    path = f"{CERTS}/{cert_id}/family"
    assert answer(app.post(path, dict(CHILD, relation="guardian"))) == (400, "E-ECT-016")
    assert answer(app.post(path, CHILD)) == (400, "E-ECT-012")  # no check of the holder
    assert count(db, family_binding) == 0
    made = app.post(path, dict(CHILD, real_person=app.attestation()))
    assert made.status_code == 201 and made.json()["status"] == "pending"
    binding = made.json()["binding_id"]
    assert answer(app.post(f"{path}/{binding}/qr", {"pin": "135790"})) == (404, "E-ECT-021")
    assert count(db, qr_code) == 0
    confirm = f"/admin/v1/family-bindings/{binding}/guardianship"
    assert http.post(confirm, headers=AUTH, json={"reason": "seen"}).status_code == 403
    assert http.post(confirm, headers=CLERK, json={"reason": "register seen"}).status_code == 200
    assert count(db, family_binding, family_binding.c.status == "active") == 1
    assert answer(http.post(confirm, headers=CLERK, json={"reason": "again"})) == (
        409, "E-ECT-024")
    code = app.post(f"{path}/{binding}/qr", {"pin": "135790"})
    assert code.status_code == 200


def test_removing_a_binding_voids_every_code_issued_through_it(db, http, his):
    """Observed: a relative's QR code issued before the binding was removed still scanned."""
    app = ChannelApp(http)
    cert_id = app.activate()
    binding = f"{CERTS}/{cert_id}/family/{bound_child(db, http, app, cert_id)}"
    codes = [app.post(f"{binding}/qr", {"pin": "135790"}).json()["qr_code"] for _ in range(2)]
    ok(scan(his, codes[0]))  # while bound
    assert app.post(f"{binding}/removal").status_code == 200
    assert "removed" in refused(scan(his, codes[1]), "E-ECT-006")
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(qr_code).where(
            qr_code.c.used_at.is_not(None))).scalar_one() == 1
    assert count(db, ec_token) == 1
    assert count(db, person_notice, person_notice.c.kind == "family_removed") == 2
    assert app.post(f"{binding}/qr", {"pin": "135790"}).status_code == 404
    own = app.qr(cert_id).json()["qr_code"]  # the holder's own codes are not affected
    assert ok(scan(his, own))["data"]["certno"] == WANG_FANG


def test_two_channels_activating_at_once_one_starts_in_a_first_period(db, clock):
    """The person's row is locked at activation: of two channels at the same moment, the
    second sees the first (four rounds)."""
    for round_ in range(4):
        with db.write() as conn:
            conn.execute(update(ecert).values(status="deactivated"))

        def activate(channel_id: str, ref: str) -> str:
            sent = Attestation("face_liveness", ref, clock.now)
            with db.write() as conn:
                return ecert_service.activate(
                    channel_call(conn, channel_id, clock.now, Ids(clock), ()),
                    insured_place="110000", name="王芳", certno=WANG_FANG, real_person=sent,
                    pin="135790")

        run_threads(activate, [("CH-BJAPP", f"EV-race-{round_}-1"),
                               ("CH-WECHAT", f"EV-race-{round_}-2")])
        with db.read() as conn:
            periods = list(conn.execute(select(ecert.c.probation_until).where(
                ecert.c.status == "active")).scalars())
        assert sorted(p is None for p in periods) == [False, True], periods
