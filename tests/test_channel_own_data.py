"""The insured person's own data through a certified channel (issue 15): the account and
its movements, the settlements explained, the online orders, the notices of settlements
and claim decisions; and the webhooks a channel gets, signed, for its claims. Amounts to
the fen after real settlements made through the national interface. Both databases."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, update
from typer.testing import CliRunner

from apps import ChannelApp
from flows import WANG_FANG, line, ok, person, register, settle_payload, upload
from receiver import Receiver
from test_reimbursement import declare_fault, fault_bill, review_and_decide
from yibao.cli import app as cli
from yibao.domain.codes import FUNDS
from yibao.domain.orders import ORD_STAS, OrderStatus
from yibao.services import outbox, webhooks
from yibao.store.demo import demo_token
from yibao.store.schema import channel, online_order, operator_action
from yibao.store.schema import outbox as outbox_table
from yibao.store.schema import person as person_table

CERTS = "/channel/v1/certificates"
PIN = {"pin": "135790"}


def fen(value: object) -> int:
    return int(Decimal(str(value)) * 100)


def settle(his, amount: str) -> tuple[str, dict]:
    """A visit of 王芳 with one 甲 line of ``amount``, settled by 2207: the answer."""
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", amount)])
    return mdtrt_id, ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, amount)))


def settled_in(app: ChannelApp, cert_id: str) -> list[dict]:
    reply = app.post(f"{CERTS}/{cert_id}/settlements/list", PIN, key="")
    assert reply.status_code == 200, reply.text
    return list(reply.json())


def test_the_account_and_settlements_after_real_settlements_to_the_fen(db, http, his):
    app = ChannelApp(http)
    cert_id = app.activate()
    mdtrt_id, answer = settle(his, "2500.00")
    s, [detail] = answer["setlinfo"], answer["setldetail"]
    assert fen(s["act_pay_dedc"]) > 0 and fen(s["fund_pay_sumamt"]) > 0  # bands used

    account = app.post(f"{CERTS}/{cert_id}/account", PIN, key="").json()
    assert account["has_account"] is True
    assert fen(account["balance"]) == 300_000 - fen(s["acct_pay"]) == fen(s["balc"])
    [moved] = account["movements"]
    assert (moved["setl_id"], moved["kind"]) == (s["setl_id"], "settlement")
    assert fen(moved["amount"]) == -fen(s["acct_pay"])
    assert fen(moved["balance_after"]) == fen(s["balc"])
    assert moved["institution"].startswith("北京示范第一医院")

    [mine] = settled_in(app, cert_id)
    assert (mine["setl_id"], mine["kind"], mine["cancelled_by"]) == (s["setl_id"],
                                                                   "settlement", None)
    for field, national in (("medfee_sumamt", "medfee_sumamt"),
                            ("fund_pay_sumamt", "fund_pay_sumamt"), ("acct_pay", "acct_pay"),
                            ("cash_pay", "psn_cash_pay"), ("deductible_applied", "act_pay_dedc"),
                            ("inscp_scp_amt", "inscp_scp_amt")):
        assert fen(mine[field]) == fen(s[national]), field
    assert fen(mine["fund_pay_sumamt"]) + fen(mine["acct_pay"]) + fen(mine["cash_pay"]) == (
        250_000)
    [fund] = mine["funds"]
    assert fund["fund_pay_type"] == detail["fund_pay_type"]
    assert fund["name"] == FUNDS[detail["fund_pay_type"]][0] != ""
    assert fen(fund["paid"]) == fen(detail["fund_payamt"])
    assert fund["computation"] == detail["setl_proc_info"]
    assert f"本次起付{mine['deductible_applied']}" in fund["computation"]
    assert Decimal(mine["fund_ratio"]) == Decimal(str(s["pool_prop_selfpay"]))
    assert any(fund["computation"] in sentence for sentence in mine["explanation"])
    assert any(f"现金支付 {mine['cash_pay']} 元" in x for x in mine["explanation"])

    psn_no = s["psn_no"]
    cancel = ok(his.call("2208", {"data": {"setl_id": s["setl_id"], "mdtrt_id": mdtrt_id,
                                           "psn_no": psn_no}}))["setlinfo"]
    cancelled, original = settled_in(app, cert_id)
    assert (cancelled["setl_id"], cancelled["kind"], cancelled["reverses"]) == (
        cancel["setl_id"], "cancellation", s["setl_id"])
    assert original["cancelled_by"] == cancel["setl_id"]
    assert fen(cancelled["medfee_sumamt"]) == -250_000
    assert fen(cancelled["acct_pay"]) == -fen(s["acct_pay"])
    assert any(s["setl_id"] in x for x in cancelled["explanation"])
    account = app.post(f"{CERTS}/{cert_id}/account", PIN, key="").json()
    assert account["balance"] == "3000.00"
    assert [(m["kind"], fen(m["amount"])) for m in account["movements"]] == [
        ("cancellation", fen(s["acct_pay"])), ("settlement", -fen(s["acct_pay"]))]

    notices = [n for n in app.notices(cert_id) if n["kind"] == "settlement_made"]
    assert [n["detail"] for n in notices] == [f"{s['setl_id']} H11010500001 2500.00"]
    assert notices[0]["channel_id"] == "H11010500001"


def test_the_views_are_paged_and_the_persons_own(db, http, his, clock):
    app = ChannelApp(http)
    cert_id = app.activate()
    ids = []
    for amount in ("10.00", "20.00", "30.00"):
        ids.append(settle(his, amount)[1]["setlinfo"]["setl_id"])
        clock.now += timedelta(minutes=1)
    page = app.post(f"{CERTS}/{cert_id}/settlements/list", dict(PIN, limit=2, offset=1),
                    key="").json()
    assert [p["setl_id"] for p in page] == [ids[1], ids[0]]
    other = ChannelApp(http, "CH-WECHAT")
    li = other.post(CERTS, {"insured_place": "110000", "name": "李建国",
                            "certno": "11010219600620003X", "pin": "246800",
                            "real_person": other.attestation()}).json()["cert_id"]
    assert other.post(f"{CERTS}/{li}/settlements/list", {"pin": "246800"}, key="").json() == []
    wrong = app.post(f"{CERTS}/{cert_id}/account", {"pin": "000000"}, key="")
    assert (wrong.status_code, wrong.json()["code"]) == (403, "E-ECT-005")


def test_a_new_channel_sees_the_history_only_after_its_first_period(db, http, his, clock):
    ChannelApp(http).activate()
    settle(his, "100.00")
    second = ChannelApp(http, "CH-WECHAT")
    cert_id = second.activate()
    reply = second.post(f"{CERTS}/{cert_id}/settlements/list", PIN, key="")
    assert (reply.status_code, reply.json()["code"]) == (403, "E-ECT-013")
    clock.now += timedelta(hours=24, seconds=1)
    assert len(second.post(f"{CERTS}/{cert_id}/settlements/list", PIN, key="").json()) == 1


def test_the_online_orders_with_their_status(db, http, clock):
    app = ChannelApp(http)
    cert_id = app.activate()
    assert app.post(f"{CERTS}/{cert_id}/orders/list", PIN, key="").json() == []
    with db.write() as conn:
        psn_no = conn.execute(select(person_table.c.psn_no).where(
            person_table.c.certno == WANG_FANG)).scalar_one()
        base = dict(pay_token_hash="h", fixmedins_code="P11010500001", request_hash="r",
                    psn_no=psn_no, insutype="310", mdtrt_id="M1", chrg_bchno="1",
                    med_type="11", acct_used=True,
                    expires_at=clock.now + timedelta(minutes=30))
        conn.execute(insert(online_order).values(dict(
            base, pay_ord_id="ORD1", med_org_ord="A1", status="settled",
            created_at=clock.now - timedelta(minutes=5), medfee_sumamt=12_345,
            fund_pay=8_000, acct_pay=3_000, cash_pay=1_345, cash_paid=1_345,
            held_at=clock.now - timedelta(minutes=4), setl_id="S1", settled_at=clock.now)))
        conn.execute(insert(online_order).values(dict(
            base, pay_ord_id="ORD2", med_org_ord="A2", status="uploaded",
            created_at=clock.now, medfee_sumamt=500)))
    orders = app.post(f"{CERTS}/{cert_id}/orders/list", PIN, key="").json()
    assert [(o["payOrdId"], o["status"], o["ordStas"]) for o in orders] == [
        ("ORD2", "uploaded", ORD_STAS[OrderStatus.UPLOADED]),
        ("ORD1", "settled", ORD_STAS[OrderStatus.SETTLED])]
    paid = orders[1]
    assert (paid["medfee_sumamt"], paid["fund_pay"], paid["acct_pay"], paid["cash_pay"]) == (
        "123.45", "80.00", "30.00", "13.45")
    assert paid["institution"] == "示范医保定点药店" and paid["settled_at"] == "2026-05-11 09:30:00"
    assert orders[0]["expires_at"] == "2026-05-11 10:00:00" and orders[0]["setl_id"] is None


# ---------------------------------------------------------------- webhooks


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()


def deliver(db, clock, url: str = "http://national.invalid/") -> outbox.DeliveryReport:
    return outbox.deliver_due(db, url=url, clock=clock)


def test_the_claims_channel_gets_a_signed_webhook_of_each_status(db, http, his, clock,
                                                                   receiver):
    runner = CliRunner()
    done = runner.invoke(cli, ["channels", "webhook", "CH-BJAPP", receiver.url, "--db", db.url])
    assert done.exit_code == 0, done.output
    listed = runner.invoke(cli, ["channels", "list", "--db", db.url])
    assert f"webhook={receiver.url}\t" in listed.output
    assert ("CH-SANDBOX\tscopes=activation,claims,own_data,payment,prescriptions\t"
            "sandbox=yes") in listed.output
    with db.read() as conn:
        assert conn.execute(select(operator_action.c.action, operator_action.c.subject)).all(
            ) == [("channel.webhook", "CH-BJAPP")]

    app = ChannelApp(http)
    cert_id = app.activate()
    app.register_payee(cert_id)
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    declare_fault(his)
    ok(fault_bill(his, psn_no, "INV-W1", "2000.00", "2026-05-11 08:30:00"))
    claim_id = app.post(f"{CERTS}/{cert_id}/claims", dict(
        PIN, reason="fault", fixmedins_code="H11010500001", invono="INV-W1")).json()["claim_id"]
    assert review_and_decide(http, claim_id)["status"] == "approved"

    assert deliver(db, clock) == outbox.DeliveryReport(delivered=3)
    events = sorted(receiver.messages.values(), key=lambda m: m["created_at"] + m["id"])
    moves = [(m["payload"]["data"]["previous"], m["payload"]["data"]["status"])
             for m in events]
    assert sorted(moves) == sorted([("eligible", "submitted"), ("submitted", "under_review"),
                                    ("under_review", "approved")])
    for key, message in receiver.messages.items():
        assert message["id"] == key and message["kind"] == "wh.claim.status"
        assert message["payload"]["subject_id"] == claim_id
        headers = receiver.headers[key]
        [body] = receiver.bodies[key]
        expected = hmac.new(demo_token("CH-BJAPP").encode(),
                            headers["x-yb-timestamp"].encode() + b"\n" + body,
                            hashlib.sha256).hexdigest()
        assert headers["x-yb-signature"] == expected
        assert headers["x-yb-channel"] == "CH-BJAPP"
        assert json.loads(body) == message
    decided = [n for n in app.notices(cert_id) if n["kind"] == "claim_decided"]
    assert [n["detail"] for n in decided] == [f"{claim_id} approved"]


def test_no_webhook_without_a_url(db, clock):
    def notify(channel_id: str) -> None:
        with db.write() as conn:
            webhooks.notify(conn, channel_id=channel_id, event="claim.status",
                            subject_id="R1", psn_no="P1", payload={}, now=clock.now)

    notify("CH-BJAPP")
    notify("")
    with db.write() as conn:
        conn.execute(update(channel).where(channel.c.channel_id == "CH-WECHAT")
                     .values(webhook_url="https://app.example/hooks"))
    notify("CH-WECHAT")
    with db.read() as conn:
        assert conn.execute(select(outbox_table.c.url, outbox_table.c.kind)).all() == [
            ("https://app.example/hooks", "wh.claim.status")]


def test_no_webhook_for_the_windows_claims(db, http, his, clock):
    from test_reimbursement import window_apply

    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    with db.write() as conn:
        conn.execute(update(channel).values(webhook_url="https://app.example/hooks"))
    applied = window_apply(http, psn_no, bill={
        "fixmedins_code": "H11010500001", "insutype": "310", "med_type": "11",
        "begntime": "2026-04-20T10:00:00", "invono": "INV-W2",
        "diagnoses": [{"diag_code": "J18.900", "diag_name": "肺炎"}],
        "lines": [{"feedetl_sn": "1", "med_list_codg": "XA01AAA0001", "cnt": "1",
                   "pric": "100.00", "det_item_fee_sumamt": "100.00"}]})
    assert applied["status"] == 201, applied
    review_and_decide(http, applied["claim_id"])
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(outbox_table)).scalar_one() == 0


def test_a_message_for_its_own_url_without_a_signer_is_never_sent_bare(db, clock, receiver):
    with db.write() as conn:
        outbox.enqueue(conn, key="X1", kind="unsigned.kind", psn_no="P", payload={},
                       now=clock.now, url=receiver.url)
    assert deliver(db, clock, receiver.url) == outbox.DeliveryReport(retried=1)
    assert receiver.requests == 0
    with db.read() as conn:
        assert conn.execute(select(outbox_table.c.last_error)).scalar_one() == (
            "no signer registered for kind unsigned.kind")


def test_a_signer_dresses_the_kinds_of_its_prefix_when_sent(db, clock, receiver):
    sent: list[str] = []

    def sign(conn, row):
        sent.append(row["id"])
        return b'{"dressed": true}', {"x-test": row["kind"]}

    outbox.register_signer("test.dressed", sign)
    with db.write() as conn:
        outbox.enqueue(conn, key="D1", kind="test.dressed.a", psn_no="P", payload={},
                       now=clock.now, url=receiver.url)
        outbox.enqueue(conn, key="N1", kind="test.national", psn_no="P", payload={"a": 1},
                       now=clock.now)
    assert deliver(db, clock, receiver.url) == outbox.DeliveryReport(delivered=2)
    assert sent == ["D1"]
    assert receiver.messages["D1"] == {"dressed": True}
    assert receiver.headers["D1"]["x-test"] == "test.dressed.a"
    assert receiver.messages["N1"]["payload"] == {"a": 1}
    assert "x-test" not in receiver.headers["N1"]


def test_a_webhook_url_is_set_by_the_command_line_only_when_valid(db):
    runner = CliRunner()
    bad = runner.invoke(cli, ["channels", "webhook", "CH-BJAPP", "ftp://x", "--db", db.url])
    assert bad.exit_code == 1 and "E-CHN-006" in bad.output
    unknown = runner.invoke(cli, ["channels", "webhook", "CH-NONE", "https://x.example",
                                  "--db", db.url])
    assert unknown.exit_code == 1 and "E-CHN-007" in unknown.output
    with db.read() as conn:
        assert set(conn.execute(select(channel.c.webhook_url)).scalars()) == {""}
    assert webhooks.check_url("") == ""


# ---------------------------------------------------------------- payment authorisation


@pytest.fixture
def shop(db, clock):
    """The app with an in-memory payment platform; the HIS signed in; the person's app."""
    from fastapi.testclient import TestClient

    from conftest import httpx_transport
    from online import Till
    from yibao.api.app import create_app
    from yibao.api.tx_online import Online
    from yibao.client import HisClient

    made = create_app(db, clock=clock, online=Online(Till(), "http://yibao.test/notify",
                                                     "http://yibao.test"))
    made.state.clock = clock
    with TestClient(made) as http:
        his = HisClient(httpx_transport(http), "H11010500001", demo_token("H11010500001"))
        his.sign_in()
        yield his, ChannelApp(http)


def test_the_person_authorises_an_order_in_the_app_and_the_institution_holds_it(
        db, shop, clock):
    from online import fee_line, pay_data, scan_token, upload_data

    his, app = shop
    cert_id = app.activate()
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    token = scan_token(his, app, cert_id)
    uploaded = ok(his.call("6201", upload_data(
        his, psn_no, token, [fee_line("1", "XA01AAA0001", "100.00", "2")])))["data"]
    path = f"{CERTS}/{cert_id}/payments/authorisation"
    body = dict(PIN, pay_ord_id=uploaded["payOrdId"])
    first = app.post(path, body, key="auth-1")
    assert first.status_code == 201, first.text
    assert first.json()["expires_in"] == 600 and first.json()["payAuthNo"]
    assert app.post(path, body, key="auth-1").json() == first.json()  # replayed, not a new one
    # the account pays all of it: nothing to pay in cash, settled at once
    paid = ok(his.call("6202", pay_data(his, uploaded, first.json()["payAuthNo"])))["data"]
    assert paid["ordStas"] == ORD_STAS[OrderStatus.SETTLED]
    [order] = app.post(f"{CERTS}/{cert_id}/orders/list", PIN, key="").json()
    assert (order["payOrdId"], order["status"], order["ordStas"]) == (
        uploaded["payOrdId"], "settled", ORD_STAS[OrderStatus.SETTLED])
    assert fen(order["medfee_sumamt"]) == 20_000 == (
        fen(order["fund_pay"]) + fen(order["acct_pay"]) + fen(order["cash_pay"]))
    [settled] = settled_in(app, cert_id)
    assert settled["setl_id"] == order["setl_id"] and fen(settled["acct_pay"]) == fen(
        order["acct_pay"])
    account = app.post(f"{CERTS}/{cert_id}/account", PIN, key="").json()
    assert fen(account["balance"]) == 300_000 - fen(order["acct_pay"])
    told = [n["detail"] for n in app.notices(cert_id) if n["kind"] == "settlement_made"]
    assert told == [f"{order['setl_id']} H11010500001 200.00"]
    again = app.post(path, body)  # a paid order is authorised no more
    assert (again.status_code, again.json()["code"]) == (409, "E-ORD-003")

    unknown = app.post(path, dict(PIN, pay_ord_id="PO-NOT-HERS"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "E-ORD-001")
    with db.write() as conn:
        conn.execute(update(channel).where(channel.c.channel_id == "CH-BJAPP")
                     .values(scopes="activation,own_data,claims"))
    refused = app.post(path, body)
    assert (refused.status_code, refused.json()["code"]) == (403, "E-CHN-001")
