"""Races around online orders, with real threads on SQLite and PostgreSQL: a held order
and a window settlement of the same person, the payment and the expiry of one order, a
notification delivered twice at once, two 6202 with one payAuthNo, two 6203 with one
appRefdSn. Whichever order the locks give, the money is what processing one after the
other gives, and each order resolves once (the ``db`` fixture checks ``ledger verify``).
Last, a property over real holds: for any fees, a window settlement made while an order is
held never pays from the account the order holds, and both add up to the fen."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from concurrency import race
from conftest import reset
from flows import WANG_FANG, fen, line, ok, person, refused, register, settle_payload, upload
from online import (
    Till,
    as_platform,
    authorise,
    fee_line,
    open_shop,
    pay_data,
    place_order,
    scan_token,
)
from yibao.domain.states import SettlementKind
from yibao.services import online_payment
from yibao.store.schema import online_hold, online_order, settlement

BALANCE = 300000  # 王芳's personal account, fen
DEDUCTIBLE = 180000  # her year's deductible (310, working employee), fen


@pytest.fixture
def till() -> Till:
    return Till()


@pytest.fixture
def shop(db, clock, till):
    with open_shop(db, clock, till) as opened:
        yield opened


def _message(his, infno: str, payload: dict) -> tuple[dict, bytes]:
    """A message ready to send (signed now, its own msgid), not yet sent."""
    return his.headers(), json.dumps(his.envelope(infno, payload)).encode()


def _send(shop, message: tuple[dict, bytes]) -> dict:
    return shop.app.state.hospital.handle(*message)


def _authorised(db, clock, shop, lines: list[dict], *, account: bool = True):
    """王芳's order uploaded and authorised: (cert_id, psn_no, 6201's data, payAuthNo)."""
    cert_id = shop.channel.activate()
    psn_no = person(shop.his, WANG_FANG)["baseinfo"]["psn_no"]
    uploaded = place_order(shop.his, shop.channel, cert_id, psn_no, lines, account=account)
    return cert_id, psn_no, uploaded, authorise(db, clock, psn_no, uploaded["payOrdId"])


def _held(db, clock, shop, lines: list[dict], *, account: bool = True):
    """王芳's order held by 6202: (cert_id, psn_no, 6201's data, 6202's data)."""
    cert_id, psn_no, uploaded, auth = _authorised(db, clock, shop, lines, account=account)
    held = ok(shop.his.call("6202", pay_data(shop.his, uploaded, auth)))["data"]
    return cert_id, psn_no, uploaded, held


def _pay(db, clock, till: Till, pay_ord_id: str, cash: int) -> str:
    trade = till.pay(pay_ord_id, clock(), cash)
    return str(as_platform(db, clock, lambda call: online_payment.on_trade(call, trade, till)
                           .did))


def _ident(shop, uploaded: dict) -> dict:
    return {"payOrdId": uploaded["payOrdId"], "orgCodg": shop.his.code,
            "payToken": uploaded["payToken"], "idNo": WANG_FANG, "userName": "王芳",
            "idType": "01"}


def _ord_stas(shop, uploaded: dict) -> str:
    return str(ok(shop.his.call("6301", {"data": _ident(shop, uploaded)}))["data"]["ordStas"])


def _settlements(db, mdtrt_id: str, kind: SettlementKind) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(settlement).where(
            settlement.c.mdtrt_id == mdtrt_id, settlement.c.kind == kind)).scalar_one())


def _setl_id_of(db, pay_ord_id: str) -> str:
    with db.read() as conn:
        return str(conn.execute(select(online_order.c.setl_id).where(
            online_order.c.pay_ord_id == pay_ord_id)).scalar_one())


def _holds(db) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(online_hold)).scalar_one())


def _history(shop, psn_no: str) -> dict[str, int]:
    """5206: the person's posted year history, fen by accumulator."""
    return {c["cum_type_code"]: fen(c["cum"]) for c in ok(shop.his.call("5206", {"data": {
        "psn_no": psn_no, "cum_ym": "202605"}}))["cuminfo"]}


def _balance(shop) -> int:
    return fen(person(shop.his, WANG_FANG)["insuinfo"][0]["balc"])


# ---------------------------------------------------------------- a hold and a window


def _hold_and_window(db, clock, shop):
    """From the demo data: 王芳's order uploaded and authorised, a window visit with its
    fees uploaded; the 6202 and the 2207 ready to send. Each could take the whole account
    (the order's own part is more than it: a cash part is left, the order stays held),
    each has 甲 1000.00, together they pass the deductible."""
    shop.his.sign_in()
    _, psn_no, uploaded, auth = _authorised(db, clock, shop, [
        fee_line("O1", "XA01AAA0001", "1000.00"), fee_line("O2", "XC03CCC0003", "4000.00")])
    visit = register(shop.his, psn_no, WANG_FANG)
    upload(shop.his, visit, psn_no, [line("W1", "XA01AAA0001", "1000.00"),
                                     line("W2", "XC03CCC0003", "2000.00")])
    return (psn_no, uploaded, _message(shop.his, "6202", pay_data(shop.his, uploaded, auth)),
            _message(shop.his, "2207", settle_payload(psn_no, visit, WANG_FANG, "3000.00")))


def _amounts(hold_answer: dict, window_answer: dict) -> tuple[tuple[int, ...], ...]:
    """What each saw: the order's split (fund, account, cash) and the window's (fund,
    account, cash, deductible paid)."""
    held, window = ok(hold_answer)["data"], ok(window_answer)["setlinfo"]
    assert held["ordStas"] == "1"
    return ((fen(held["fundPay"]), fen(held["psnAcctPay"]), fen(held["ownPayAmt"])),
            (fen(window["fund_pay_sumamt"]), fen(window["acct_pay"]),
             fen(window["psn_cash_pay"]), fen(window["act_pay_dedc"])))


def _one_after_the_other(db, clock, shop, hold_first: bool) -> tuple[tuple[int, ...], ...]:
    reset(db)
    _, _, hold_msg, window_msg = _hold_and_window(db, clock, shop)
    if hold_first:
        hold_answer = _send(shop, hold_msg)
        return _amounts(hold_answer, _send(shop, window_msg))
    window_answer = _send(shop, window_msg)
    return _amounts(_send(shop, hold_msg), window_answer)


RACE_ROUNDS = 3


def test_a_hold_and_a_window_settlement_racing_use_the_year_and_account_once(
        db, clock, shop, till):
    sequential = {_one_after_the_other(db, clock, shop, first) for first in (True, False)}
    assert len(sequential) == 2  # who comes first matters: the race can tell them apart
    for _ in range(RACE_ROUNDS):
        reset(db)
        psn_no, uploaded, hold_msg, window_msg = _hold_and_window(db, clock, shop)
        answers = race(*(lambda m=m: _send(shop, m) for m in (hold_msg, window_msg)))
        order, window = _amounts(*answers)
        assert (order, window) in sequential
        assert order[1] + window[1] <= BALANCE
        assert _balance(shop) == BALANCE - window[1]  # the order's account part is held
        assert _pay(db, clock, till, uploaded["payOrdId"], order[2]) == "settled"
        assert _balance(shop) == BALANCE - window[1] - order[1]
        history = _history(shop, psn_no)
        assert history["D.emp_otp"] == DEDUCTIBLE  # used once, by the two together
        assert history["B.emp_otp"] == 2 * 100000  # each 甲 line counted once
        assert history["F.330100"] == order[0] + window[0]
        assert _holds(db) == 0


# ---------------------------------------------------------------- one order, two resolutions


def _paid_after_expiry(db, clock, shop, till):
    """A held order with a cash part, paid at the platform after its lifetime."""
    _, psn_no, uploaded, held = _held(db, clock, shop, [
        fee_line("1", "XB02BBB0002", "500.00")], account=False)
    assert held["extData"]["payUrl"] and fen(held["ownPayAmt"]) > 0
    clock.now += timedelta(minutes=31)
    return psn_no, uploaded, held, till.pay(uploaded["payOrdId"], clock(),
                                            fen(held["ownPayAmt"]))


def _notified(db, clock, till, trade):
    return lambda: as_platform(
        db, clock, lambda call: online_payment.on_trade(call, trade, till).did)


def test_the_payment_and_the_expiry_racing_settle_the_order_once(db, clock, shop, till):
    _, uploaded, _, trade = _paid_after_expiry(db, clock, shop, till)
    pay_ord_id = uploaded["payOrdId"]
    dids = race(_notified(db, clock, till, trade), lambda: as_platform(
        db, clock, lambda call: online_payment.expire(call, pay_ord_id, till)))
    # the notification first: it settles, the expiry finds nothing due; the expiry first:
    # the platform says paid, it settles, the notification finds it settled
    assert dids in (["settled", "not_due"], ["already", "settled"])
    assert _ord_stas(shop, uploaded) == "6"
    mdtrt_id = uploaded["extData"]["mdtrtId"]
    assert _settlements(db, mdtrt_id, SettlementKind.SETTLE) == 1
    assert _holds(db) == 0
    assert till.closed == [] and till.refunds == []  # never released, nothing given back


def test_a_notification_delivered_twice_at_once_settles_once(db, clock, shop, till):
    _, uploaded, held = _held(db, clock, shop, [
        fee_line("1", "XB02BBB0002", "1000.00", "5")])[1:]
    assert fen(held["ownPayAmt"]) > 0 and fen(held["psnAcctPay"]) > 0
    trade = till.pay(uploaded["payOrdId"], clock(), fen(held["ownPayAmt"]))
    dids = race(_notified(db, clock, till, trade), _notified(db, clock, till, trade))
    assert sorted(dids) == ["already", "settled"]
    assert _ord_stas(shop, uploaded) == "6"
    assert _settlements(db, uploaded["extData"]["mdtrtId"], SettlementKind.SETTLE) == 1
    assert _balance(shop) == BALANCE - fen(held["psnAcctPay"])
    assert _holds(db) == 0 and till.refunds == []


# ---------------------------------------------------------------- 6202 and 6203 twice at once


@pytest.mark.parametrize("same_ser", [True, False], ids=["same-orgBizSer", "other-orgBizSer"])
def test_two_6202_with_one_pay_auth_no_hold_once(db, clock, shop, till, same_ser):
    _, psn_no, uploaded, auth = _authorised(db, clock, shop, [
        fee_line("1", "XA01AAA0001", "1000.00"), fee_line("2", "XC03CCC0003", "100.00")],
        account=False)
    first = _message(shop.his, "6202", pay_data(shop.his, uploaded, auth, "BIZ1"))
    second = _message(shop.his, "6202", pay_data(shop.his, uploaded, auth,
                                                  "BIZ1" if same_ser else "BIZ2"))
    answers = race(lambda: _send(shop, first), lambda: _send(shop, second))
    held = [a for a in answers if a["infcode"] == 0]
    if same_ser:  # a retry: both answer the same hold
        assert len(held) == 2 and ok(held[0]) == ok(held[1])
    else:  # the order is held by the first; the other is refused
        assert len(held) == 1
        refused(next(a for a in answers if a["infcode"] != 0), "E-ORD-003")
    split = ok(held[0])["data"]
    assert split["ordStas"] == "1" and len(till.trades) == 1
    assert _balance(shop) == BALANCE  # nothing posted while held
    assert _pay(db, clock, till, uploaded["payOrdId"], fen(split["ownPayAmt"])) == "settled"
    assert _history(shop, psn_no)["B.emp_otp"] == 100000  # the in-scope part, held once
    assert _balance(shop) == BALANCE


def test_two_6203_with_one_app_refd_sn_refund_once(db, clock, shop, till):
    cert_id, _, uploaded, held = _held(db, clock, shop, [
        fee_line("1", "XB02BBB0002", "1000.00", "5")])
    assert fen(held["ownPayAmt"]) > 0 and fen(held["psnAcctPay"]) > 0
    assert _pay(db, clock, till, uploaded["payOrdId"], fen(held["ownPayAmt"])) == "settled"
    body = {"data": {
        "payOrdId": uploaded["payOrdId"], "appRefdSn": "R1", "appRefdTime": "20260511100000",
        "totlRefdAmt": held["feeSumamt"], "ecToken": scan_token(shop.his, shop.channel, cert_id),
        "refdType": "ALL", "cashRefdAmt": held["ownPayAmt"]}}
    twice = [_message(shop.his, "6203", body) for _ in range(2)]
    answers = race(*(lambda m=m: _send(shop, m) for m in twice))
    first, second = (ok(a)["data"] for a in answers)
    assert first == second and first["refStatus"] == "SUCC" and first["hiFefdSn"]
    assert _settlements(db, uploaded["extData"]["mdtrtId"], SettlementKind.CANCEL) == 1
    assert [r[2] for r in till.refunds] == [fen(held["ownPayAmt"])]
    assert _ord_stas(shop, uploaded) == "7"
    assert _balance(shop) == BALANCE


# ---------------------------------------------------------------- a property over real holds

LINE_FEN = st.integers(min_value=1, max_value=300000)  # 0.01 .. 3000.00 yuan
IDENTITY = ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay")


def _yuan(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"


def _check_identities(amounts: dict[str, int]) -> None:
    """As the engine's tests check: medfee = fund + the person's part = fund + account +
    cash, to the fen."""
    assert amounts["medfee_sumamt"] == amounts["fund_pay_sumamt"] + amounts["psn_part_amt"]
    assert amounts["psn_part_amt"] == amounts["acct_pay"] + amounts["psn_cash_pay"]
    assert min(amounts.values()) >= 0


def _window(shop, psn_no: str, fees: tuple[int, int]) -> dict[str, int]:
    visit = register(shop.his, psn_no, WANG_FANG)
    upload(shop.his, visit, psn_no, [line("W1", "XA01AAA0001", _yuan(fees[0])),
                                     line("W2", "XC03CCC0003", _yuan(fees[1]))])
    info = ok(shop.his.call("2207", settle_payload(psn_no, visit, WANG_FANG,
                                                   _yuan(sum(fees)))))["setlinfo"]
    amounts = {k: fen(info[k]) for k in IDENTITY}
    assert amounts["medfee_sumamt"] == sum(fees)
    return amounts


def _stored(db, setl_id: str) -> dict[str, int]:
    with db.read() as conn:
        row = conn.execute(select(*(settlement.c[k] for k in IDENTITY)).where(
            settlement.c.setl_id == setl_id)).mappings().one()
    return {k: int(row[k]) for k in IDENTITY}


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order_fees=st.tuples(LINE_FEN, LINE_FEN), window_fees=st.tuples(LINE_FEN, LINE_FEN),
       account=st.booleans())
def test_a_window_settlement_while_an_order_is_held_leaves_the_held_account_alone(
        db, clock, shop, till, order_fees, window_fees, account):
    reset(db)
    shop.his.sign_in()
    own = order_fees[1] + (BALANCE if account else 0)  # more than the account: a cash part
    _, psn_no, uploaded, held = _held(db, clock, shop, [
        fee_line("1", "XB02BBB0002", _yuan(order_fees[0])),
        fee_line("2", "XC03CCC0003", _yuan(own))], account=account)
    assert held["ordStas"] == "1"
    order_acct = fen(held["psnAcctPay"])
    window = _window(shop, psn_no, window_fees)
    assert window["acct_pay"] <= BALANCE - order_acct
    _check_identities(window)
    assert _pay(db, clock, till, uploaded["payOrdId"], fen(held["ownPayAmt"])) == "settled"
    order = _stored(db, _setl_id_of(db, uploaded["payOrdId"]))
    _check_identities(order)
    assert (order["medfee_sumamt"], order["fund_pay_sumamt"], order["acct_pay"],
            order["psn_cash_pay"]) == (fen(held["feeSumamt"]), fen(held["fundPay"]),
                                       order_acct, fen(held["ownPayAmt"]))
    assert window["acct_pay"] + order["acct_pay"] <= BALANCE
    assert _balance(shop) == BALANCE - window["acct_pay"] - order["acct_pay"]
