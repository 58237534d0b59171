"""Authorising an online order's payment by face, at the pilot level: in the app, the
holder sends a live capture instead of the PIN; the order's institution must be in the
face pilot, the face is compared with the one enrolled (dlib, real photos), every attempt
is audited, failures count towards the same lockouts as 9601, and a refused attempt
issues no payAuthNo."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from faces import astronaut, lfw
from flows import WANG_FANG, ok, person
from online import Till, fee_line, open_shop, pay_data, place_order
from yibao.client import HisClient, httpx_transport
from yibao.domain.orders import ORD_STAS, OrderStatus
from yibao.services import face
from yibao.store.demo import demo_token
from yibao.store.schema import audit_event, pay_auth

CERTS = "/channel/v1/certificates"
PIN = "135790"
NOT_IN_PILOT = "H11010500002"


@pytest.fixture
def shop(db, clock):
    with open_shop(db, clock, Till()) as opened:
        yield opened


@pytest.fixture
def enrolled(shop) -> tuple[str, str]:
    """Wang Fang's certificate with her face (the astronaut photo) enrolled: (cert_id,
    psn_no)."""
    app = shop.channel
    cert_id = app.activate()
    reply = app.post(f"{CERTS}/{cert_id}/face", {
        "image": astronaut(), "pin": PIN, "real_person": app.attestation()})
    assert reply.status_code == 200, reply.text
    return cert_id, person(shop.his, WANG_FANG)["baseinfo"]["psn_no"]


def by_face(shop, cert_id: str, pay_ord_id: str, photo: str, liveness: str = "1",
            key: str | None = None):
    body = {"pay_ord_id": pay_ord_id, "face": {"photo": photo, "liveness": liveness}}
    return shop.channel.post(f"{CERTS}/{cert_id}/payments/authorisation", body,
                             **({} if key is None else {"key": key}))


def authorisations(db) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(pay_auth)).scalar_one()


def face_attempts(db) -> list[tuple[str, str, str]]:
    """(kind, actor, place) of every audited face attempt, oldest first."""
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(audit_event.c.kind, audit_event.c.actor, audit_event.c.place)
            .where(audit_event.c.kind.in_(face.ATTEMPT_KINDS)).order_by(audit_event.c.id))]


def test_the_enrolled_face_authorises_the_order_and_the_institution_holds_it(
        db, shop, enrolled):
    cert_id, psn_no = enrolled
    uploaded = place_order(shop.his, shop.channel, cert_id, psn_no,
                           [fee_line("1", "XA01AAA0001", "100.00", "2")])
    reply = by_face(shop, cert_id, uploaded["payOrdId"], astronaut(brightness=0.8),
                    key="face-1")
    assert reply.status_code == 201, reply.text
    assert reply.json()["expires_in"] == 600
    paid = ok(shop.his.call("6202", pay_data(shop.his, uploaded, reply.json()["payAuthNo"])))
    assert paid["data"]["ordStas"] == ORD_STAS[OrderStatus.SETTLED]
    assert face_attempts(db) == [("face_matched", "CH-BJAPP", "CH-BJAPP")]


def test_another_face_is_refused_audited_and_issues_nothing(db, shop, enrolled):
    cert_id, psn_no = enrolled
    uploaded = place_order(shop.his, shop.channel, cert_id, psn_no,
                           [fee_line("1", "XA01AAA0001", "100.00")])
    reply = by_face(shop, cert_id, uploaded["payOrdId"], lfw(3))
    assert (reply.status_code, reply.json()["code"]) == (409, "E-FACE-004")
    assert "distance" not in reply.text
    dead = by_face(shop, cert_id, uploaded["payOrdId"], astronaut(), liveness="0")
    assert (dead.status_code, dead.json()["code"]) == (409, "E-FACE-005")
    assert authorisations(db) == 0
    assert face_attempts(db) == [("face_refused", "CH-BJAPP", "CH-BJAPP")] * 2
    # the PIN still works for the same order
    pin = shop.channel.post(f"{CERTS}/{cert_id}/payments/authorisation",
                            {"pay_ord_id": uploaded["payOrdId"], "pin": PIN})
    assert pin.status_code == 201, pin.text


def test_face_is_only_for_orders_of_pilot_institutions(db, shop, enrolled):
    cert_id, psn_no = enrolled
    other = HisClient(httpx_transport(shop.channel.http), NOT_IN_PILOT,
                      demo_token(NOT_IN_PILOT))
    other.sign_in()
    uploaded = place_order(other, shop.channel, cert_id, psn_no,
                           [fee_line("1", "XA01AAA0001", "100.00")])
    reply = by_face(shop, cert_id, uploaded["payOrdId"], astronaut())
    assert (reply.status_code, reply.json()["code"]) == (409, "E-FACE-002")
    assert authorisations(db) == 0
    assert face_attempts(db) == [("face_blocked", "CH-BJAPP", "CH-BJAPP")]


def test_five_failed_faces_lock_the_person_out_of_face_payment(db, shop, enrolled, clock):
    cert_id, psn_no = enrolled
    uploaded = place_order(shop.his, shop.channel, cert_id, psn_no,
                           [fee_line("1", "XA01AAA0001", "100.00")])
    for liveness in ("0", "0", "", "0"):  # failed liveness checks count as failures
        assert by_face(shop, cert_id, uploaded["payOrdId"], astronaut(),
                       liveness).json()["code"] == "E-FACE-005"
    assert by_face(shop, cert_id, uploaded["payOrdId"], lfw(3)).json()["code"] == "E-FACE-004"
    locked = by_face(shop, cert_id, uploaded["payOrdId"], astronaut())
    assert (locked.status_code, locked.json()["code"]) == (423, "E-FACE-006")
    assert authorisations(db) == 0


def test_the_body_gives_either_the_pin_or_a_face(shop, enrolled):
    cert_id, _psn_no = enrolled
    path = f"{CERTS}/{cert_id}/payments/authorisation"
    both = shop.channel.post(path, {"pay_ord_id": "PO1", "pin": PIN,
                                    "face": {"photo": astronaut(), "liveness": "1"}})
    neither = shop.channel.post(path, {"pay_ord_id": "PO1"})
    for reply in (both, neither):
        assert reply.status_code == 422, reply.text
        assert "either pin or face" in reply.text
