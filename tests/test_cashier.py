"""The cashier page through the HTTP interface (TestClient): the person opens the order
with a payAuthNo, sees the split, confirms, is sent to the platform, sees the result;
every refusal is a page with its code and changes nothing; the session cookie and the
form's token are required to confirm."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from apps import ChannelApp
from cashier_flow import ORDER_FIELDS, cashier_link, shown, uploaded_order, yuan_to_fen
from conftest import httpx_transport
from online import Till, authorise, fee_line
from test_errors import unchanged
from yibao.api.app import create_app
from yibao.api.tx_online import Online
from yibao.client import HisClient
from yibao.domain.errors import Refused
from yibao.services import ledger, online, online_payment
from yibao.services.context import Actor, ActorKind, Call, Entry, Ids
from yibao.store import institutions, online_orders
from yibao.store.demo import demo_token

PRICEY = "XC03CCC0003"  # 丙类: the person pays it all (cash, no account used)


@pytest.fixture
def till() -> Till:
    return Till()


@pytest.fixture
def shop(db, clock, till):
    made = create_app(db, clock=clock, online=Online(till, "http://yibao.test/notify",
                                                     "http://yibao.test"))
    made.state.clock = clock
    with TestClient(made) as http:
        his = HisClient(httpx_transport(http), "H11010500001", demo_token("H11010500001"))
        his.sign_in()
        yield made, http, his, ChannelApp(http)


def _order(db, pay_ord_id: str):
    with db.read() as conn:
        return online_orders.find(conn, pay_ord_id)


def _code(reply) -> str:
    return shown(reply.text, "code").split()[0]


def _refused(reply, code: str, status: int) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert _code(reply) == code
    assert "无法继续 / Cannot continue" in reply.text


def _held(db, clock, shop, lines, **kw):
    """An order uploaded, opened on the cashier page (held): (pay_ord_id, the page)."""
    _made, http, his, app = shop
    psn_no, uploaded = uploaded_order(his, app, lines, **kw)
    page = http.get(cashier_link(db, clock, psn_no, uploaded))
    assert page.status_code == 200, page.text
    return uploaded["payOrdId"], page


def test_the_person_sees_the_split_confirms_pays_and_sees_it_settled(db, clock, shop, till):
    _made, http, his, app = shop
    psn_no, uploaded = uploaded_order(his, app, [fee_line("1", PRICEY, "120.50", "2")])
    pay_ord_id = uploaded["payOrdId"]
    page = http.get(cashier_link(db, clock, psn_no, uploaded))
    assert page.status_code == 200, page.text
    order = _order(db, pay_ord_id)
    assert order["status"] == "held" and order["cash_pay"] == 24100
    for ident, column in ORDER_FIELDS.items():
        assert yuan_to_fen(shown(page.text, ident)) == order[column], ident
    assert shown(page.text, "institution") == his_name(db, "H11010500001")
    assert shown(page.text, "expires") == f"{order['expires_at']:%Y-%m-%d %H:%M:%S}"
    assert "确认支付 / Confirm and pay" in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("yb_cashier=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and f"Path=/cashier/{pay_ord_id}" in cookie
    assert order["hold_ref"].startswith("cashier:") and len(order["hold_ref"]) == 40
    assert page.headers["cache-control"] == "no-store"
    # a reload: the payAuthNo is spent, the cookie shows the same held order
    again = http.get(f"/cashier/{pay_ord_id}")
    assert again.status_code == 200 and shown(again.text, "cash-pay") == "¥241.00"
    assert _order(db, pay_ord_id)["held_at"] == order["held_at"]
    token = _form_token(again.text)
    sent = http.post(f"/cashier/{pay_ord_id}/confirm", data={"form_token": token},
                     follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == (  # told to send the person back to the result
        f"https://pay.example/{pay_ord_id}?return=http%3A%2F%2Fyibao.test%2Fcashier%2F"
        f"{pay_ord_id}%2Fresult")
    assert till.trades[pay_ord_id].amount_fen == 24100
    waiting = http.get(f"/cashier/{pay_ord_id}/result")
    assert shown(waiting.text, "status") == "等待支付 / Waiting for payment"
    trade = till.pay(pay_ord_id, clock())
    _as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till))
    done = http.get(f"/cashier/{pay_ord_id}/result")
    assert done.status_code == 200
    assert shown(done.text, "status") == "已结算 / Settled"
    assert yuan_to_fen(shown(done.text, "cash-pay")) == 24100
    # without the session, the result page tells the state and nothing of the money
    stranger = TestClient(_made).get(f"/cashier/{pay_ord_id}/result")
    assert shown(stranger.text, "status") == "已结算 / Settled"
    assert 'id="cash-pay"' not in stranger.text and 'id="institution"' not in stranger.text


def test_back_from_the_platform_before_its_notification_the_payment_is_asked_for(
        db, clock, shop, till):
    _made, http, _his, _app = shop
    pay_ord_id, page = _held(db, clock, shop, [fee_line("1", PRICEY, "50.00")])
    http.post(f"/cashier/{pay_ord_id}/confirm", data={"form_token": _form_token(page.text)},
              follow_redirects=False)
    waiting = http.get(f"/cashier/{pay_ord_id}/result")  # not paid: the way to pay again
    assert shown(waiting.text, "status") == "等待支付 / Waiting for payment"
    assert f'href="https://pay.example/{pay_ord_id}?return=' in waiting.text
    trade = till.pay(pay_ord_id, clock())  # paid; the notification is late
    back = http.get(f"/cashier/{pay_ord_id}/result")
    assert shown(back.text, "status") == "已结算 / Settled"
    assert yuan_to_fen(shown(back.text, "cash-pay")) == 5000
    late = _as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till))
    assert late.did == "already"  # settled once
    with db.read() as conn:
        assert ledger.verify(conn) == []
    assert _order(db, pay_ord_id)["trade_no"] == trade.trade_no


def test_nothing_to_pay_settles_on_confirmation(db, clock, shop, till):
    _made, http, _his, _app = shop
    pay_ord_id, page = _held(db, clock, shop, [fee_line("1", "XA01AAA0001", "10.00")],
                             account=True)
    assert _order(db, pay_ord_id)["cash_pay"] == 0  # the account pays what the fund leaves
    reply = http.post(f"/cashier/{pay_ord_id}/confirm",
                      data={"form_token": _form_token(page.text)}, follow_redirects=False)
    assert reply.status_code == 200
    assert shown(reply.text, "status") == "已结算 / Settled"
    assert shown(reply.text, "cash-pay") == "¥0.00"
    order = _order(db, pay_ord_id)
    assert order["status"] == "settled" and order["setl_id"]
    assert till.trades == {}  # nothing asked of the platform


def test_the_platform_down_keeps_the_order_held_and_asks_to_try_again(db, clock, shop, till):
    _made, http, _his, _app = shop
    pay_ord_id, page = _held(db, clock, shop, [fee_line("1", PRICEY, "50.00")])
    till.down = True
    form = {"form_token": _form_token(page.text)}
    reply = http.post(f"/cashier/{pay_ord_id}/confirm", data=form, follow_redirects=False)
    assert reply.status_code == 503
    assert shown(reply.text, "note").startswith("支付平台暂不可用，请稍后重试")
    assert "确认支付 / Confirm and pay" in reply.text
    order = _order(db, pay_ord_id)
    assert order["status"] == "held" and order["pay_url"] == ""
    till.down = False
    reply = http.post(f"/cashier/{pay_ord_id}/confirm", data={"form_token": _form_token(
        reply.text)}, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith(
        f"https://pay.example/{pay_ord_id}?return=")


def test_opening_is_refused_with_a_page_and_changes_nothing(db, clock, shop):
    made, http, his, app = shop
    cert_id = app.activate()
    psn_no, first = uploaded_order(his, app, [fee_line("1", PRICEY, "10.00")], order="MO1",
                                   cert_id=cert_id)
    _, second = uploaded_order(his, app, [fee_line("2", PRICEY, "20.00")], order="MO2",
                               cert_id=cert_id)
    first_id, second_id = first["payOrdId"], second["payOrdId"]
    auth_first = authorise(db, clock, psn_no, first_id)
    with unchanged(db):
        _refused(http.get("/cashier/ORD20260511000000ffffff"), "E-ORD-001", 404)
        _refused(http.get("/cashier/ORD%27%3B--"), "E-ORD-001", 404)
        _refused(http.get(f"/cashier/{first_id}"), "E-PAU-003", 400)
        _refused(http.get(f"/cashier/{first_id}?payAuthNo=PA-nothing"), "E-PAU-001", 403)
        _refused(http.get(f"/cashier/{second_id}?payAuthNo={auth_first}"), "E-PAU-002", 403)
        _refused(http.get(f"/cashier/{first_id}?payAuthNo={'x' * 61}"), "E-PAU-001", 403)
    assert http.get(f"/cashier/{first_id}?payAuthNo={auth_first}").status_code == 200
    other_browser = TestClient(made)
    with unchanged(db):  # spent: a second browser cannot take the held order
        _refused(other_browser.get(f"/cashier/{first_id}?payAuthNo={auth_first}"),
                 "E-ORD-003", 409)
        _refused(other_browser.get(f"/cashier/{first_id}"), "E-PAU-003", 400)
    auth_second = authorise(db, clock, psn_no, second_id)
    clock.now += timedelta(minutes=11)
    with unchanged(db):
        _refused(http.get(f"/cashier/{second_id}?payAuthNo={auth_second}"), "E-PAU-001", 403)
    clock.now += timedelta(minutes=20)
    with unchanged(db):
        _refused(http.get(f"/cashier/{second_id}?payAuthNo={auth_second}"), "E-ORD-005", 409)


def test_confirming_needs_the_session_cookie_and_its_form_token(db, clock, shop, till):
    made, http, _his, _app = shop
    pay_ord_id, page = _held(db, clock, shop, [fee_line("1", PRICEY, "30.00")])
    token = _form_token(page.text)
    confirm = f"/cashier/{pay_ord_id}/confirm"
    stranger = TestClient(made)
    with unchanged(db):
        _refused(stranger.post(confirm, data={"form_token": token}), "E-CSH-001", 401)
        _refused(http.post(confirm, data={"form_token": "0" * 64}), "E-CSH-002", 403)
        _refused(http.post(confirm, data={}), "E-CSH-002", 403)
        _refused(http.post(confirm, content=b"form_token=%ff%00&form_token=x",
                           headers={"content-type": "application/x-www-form-urlencoded"}),
                 "E-CSH-002", 403)
        # a session of another order is no session of this one
        stranger.cookies.set("yb_cashier", "forged-session", path=f"/cashier/{pay_ord_id}")
        _refused(stranger.post(confirm, data={"form_token": token}), "E-CSH-001", 401)
        _refused(stranger.get(f"/cashier/{pay_ord_id}"), "E-CSH-001", 401)
    assert till.trades == {}
    # the edge refuses a body far larger than the form before the route reads it
    big = http.post(confirm, content=b"x" * 5000,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413 and "1024 bytes" in big.json()["detail"]
    assert big.json()["code"] == "E-REQ-005" and big.json()["instance"] == big.request.url.path
    ok = http.post(confirm, data={"form_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    # a second click: the same platform order, nothing asked twice
    again = http.post(confirm, data={"form_token": token}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == ok.headers["location"]


def test_without_a_payment_platform_a_part_to_pay_cannot_be_confirmed(db, clock):
    made = create_app(db, clock=clock)  # no platform configured
    made.state.clock = clock
    with TestClient(made) as http:
        his = HisClient(httpx_transport(http), "H11010500001", demo_token("H11010500001"))
        his.sign_in()
        pay_ord_id, page = _held(db, clock, (made, http, his, ChannelApp(http)),
                                 [fee_line("1", PRICEY, "30.00")])
        with unchanged(db):
            _refused(http.post(f"/cashier/{pay_ord_id}/confirm",
                               data={"form_token": _form_token(page.text)}), "E-PAY-001", 503)


def test_an_expired_held_order_cannot_be_confirmed(db, clock, shop, till):
    _made, http, _his, _app = shop
    pay_ord_id, page = _held(db, clock, shop, [fee_line("1", PRICEY, "30.00")])
    clock.now += timedelta(minutes=31)
    shown_again = http.get(f"/cashier/{pay_ord_id}")
    assert shown(shown_again.text, "status") == "已过期 / Expired"
    assert "确认支付 / Confirm and pay" not in shown_again.text
    with unchanged(db):
        _refused(http.post(f"/cashier/{pay_ord_id}/confirm",
                           data={"form_token": _form_token(page.text)}), "E-ORD-005", 409)
    assert till.trades == {}


def test_an_institution_call_with_an_empty_pay_token_is_refused(db, clock, shop):
    """Only the cashier's own call may hold without the payToken."""
    _made, _http, his, app = shop
    psn_no, uploaded = uploaded_order(his, app, [fee_line("1", PRICEY, "10.00")])
    auth = authorise(db, clock, psn_no, uploaded["payOrdId"])
    request = online.HoldRequest(uploaded["payOrdId"], pay_token="", pay_auth_no=auth,
                                 hold_ref="BIZ1")
    with unchanged(db), pytest.raises(Refused) as refused, db.write() as conn:
        site = institutions.find(conn, "H11010500001")
        call = Call(conn=conn, actor=Actor(ActorKind.INSTITUTION, "H11010500001"),
                    entry=Entry.NATIONAL, now=clock(), ids=Ids(clock), policies=_policies(),
                    site=site)
        online.hold(call, request)
    assert refused.value.code == "E-ORD-002"


def _form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([0-9a-f]{64})"', html)
    assert found is not None, "no confirmation form on the page"
    return found.group(1)


def his_name(db, code: str) -> str:
    with db.read() as conn:
        site = institutions.find(conn, code)
    assert site is not None
    return site.name


def _as_platform(db, clock, action):
    with db.write() as conn:
        return action(Call(conn=conn, actor=Actor(ActorKind.SYSTEM, "platform"),
                           entry=Entry.PLATFORM, now=clock(), ids=Ids(clock),
                           policies=_policies()))


def _policies():
    from yibao.store.policy_files import load_policies
    return load_policies()
