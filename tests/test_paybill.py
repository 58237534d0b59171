"""The daily bill: WeChat's trade-bill text read into rows (thirdpay/bill.py) and the pure
differences between yibao's orders and the bill (domain/paybill.py). No network."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.money import fen_to_yuan
from yibao.domain.paybill import BillRow, Difference, Kind, OurOrder, OurStatus, differences
from yibao.thirdpay import bill

AT = datetime(2026, 3, 2, 10, 15, 30)
PAID, UNPAID = OurStatus.PAID, OurStatus.UNPAID

# two detail rows and the summary, laid out as WeChat's ALL trade bill is
SAMPLE = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注\r\n"
    "`2026-03-02 10:15:30,`wx000000000demo001,`1900009191,`0,`,`4200000001202603021234567890,"
    "`YB0001,`o-demo-1,`MWEB,`SUCCESS,`OTHERS,`CNY,`123.45,`0.00,`,`,`0.00,`0.00,`,`,`挂号费,"
    "`,`0.74,`0.60%,`123.45,`0.00,`\r\n"
    "`2026-03-02 11:00:00,`wx000000000demo001,`1900009191,`0,`,`4200000001202603021234567890,"
    "`YB0001,`o-demo-1,`MWEB,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000022026030200000001,"
    "`RF0001,`3.45,`0.00,`ORIGINAL,`SUCCESS,`挂号费,`,`-0.02,`0.60%,`0.00,`3.45,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,"
    "申请退款总金额\r\n"
    "`2,`123.45,`3.45,`0.00,`0.72,`123.45,`3.45\r\n")


def test_a_wechat_trade_bill_reads_as_rows_in_fen():
    rows = bill.parse(SAMPLE)
    assert rows == [
        BillRow(AT, "YB0001", "4200000001202603021234567890", "SUCCESS", 12345),
        BillRow(datetime(2026, 3, 2, 11), "YB0001", "4200000001202603021234567890", "REFUND",
                0, 345, "RF0001", "50300000022026030200000001")]


@pytest.mark.parametrize("change, problem", [
    (("`2,`123.45,`3.45", "`3,`123.45,`3.45"), "counts 3 rows"),
    (("`2,`123.45,`3.45", "`2,`123.46,`3.45"), "应结订单总金额"),
    (("`123.45,`0.00,`,`,`0.00", "`123.456,`0.00,`,`,`0.00"), "more than two decimals"),
    (("交易时间,公众账号ID", "时间,公众账号ID"), "detail header"),
    (("`MWEB,`SUCCESS", "MWEB,`SUCCESS"), "each starting with `"),
])
def test_a_bill_whose_layout_or_summary_is_wrong_is_refused(change, problem):
    with pytest.raises(bill.BillFormatError, match=problem):
        bill.parse(SAMPLE.replace(*change))


def _detail(number: str, state: str, fen: int) -> dict[str, str]:
    payment = state == "SUCCESS"
    return {"交易时间": AT.strftime(bill.TIME_FORMAT), "商户订单号": number,
            "微信订单号": "42" + number, "交易状态": state,
            "应结订单金额": fen_to_yuan(fen if payment else 0),
            "订单金额": fen_to_yuan(fen if payment else 0),
            "退款金额": fen_to_yuan(0 if payment else fen),
            "申请退款金额": fen_to_yuan(0 if payment else fen),
            "代金券金额": "0.00", "充值券退款金额": "0.00", "手续费": "0.00"}


@given(st.lists(st.tuples(st.sampled_from(["SUCCESS", "REFUND"]),
                          st.integers(min_value=1, max_value=1_000_000_000)),
                max_size=8))
def test_bill_amounts_in_fen_round_trip_through_the_yuan_text(trades):
    details = [_detail(f"YB{i:04d}", state, fen) for i, (state, fen) in enumerate(trades)]
    rows = bill.parse(bill.render(details))
    assert [(r.state, r.amount_fen + r.refund_fen) for r in rows] == trades


def _row(number: str, fen: int, state: str = "SUCCESS") -> BillRow:
    return BillRow(AT, number, "42" + number, state, fen if state == "SUCCESS" else 0,
                   fen if state == "REFUND" else 0)


def test_orders_and_bill_that_agree_have_no_differences():
    orders = [OurOrder("A", PAID, 100), OurOrder("B", PAID, 200, 50),
              OurOrder("C", PAID, 0, 30), OurOrder("D", UNPAID, 0)]
    rows = [_row("A", 100), _row("B", 200), _row("B", 50, "REFUND"), _row("C", 30, "REFUND")]
    assert differences(orders, rows) == []


def test_each_kind_of_difference_is_named_with_both_sides():
    orders = [OurOrder("A", PAID, 100), OurOrder("B", PAID, 200),
              OurOrder("C", PAID, 300, 100), OurOrder("D", UNPAID, 0)]
    rows = [_row("B", 250), _row("C", 300), _row("C", 60, "REFUND"), _row("D", 400),
            _row("E", 500)]
    assert differences(orders, rows) == [
        Difference(Kind.MISSING_AT_PLATFORM, "A", 100, None),
        Difference(Kind.AMOUNT_DIFFERS, "B", 200, 250),
        Difference(Kind.REFUND_DIFFERS, "C", 100, 60),
        Difference(Kind.STATUS_DIFFERS, "D", "unpaid", "SUCCESS"),
        Difference(Kind.MISSING_AT_YIBAO, "E", None, 500)]


def test_a_refund_we_made_that_the_bill_lacks_is_missing_at_the_platform():
    assert differences([OurOrder("A", PAID, 0, 70)], []) == [
        Difference(Kind.MISSING_AT_PLATFORM, "A", 70, None)]


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), max_size=12))
def test_a_bill_made_from_our_own_orders_never_differs(amounts):
    orders = [OurOrder(f"N{i}", PAID, paid, refund) for i, (paid, refund) in
              enumerate(amounts)]
    rows = [_row(o.out_trade_no, o.paid_fen) for o in orders if o.paid_fen] + [
        _row(o.out_trade_no, o.refund_fen, "REFUND") for o in orders if o.refund_fen]
    assert differences(orders, rows) == []
    if orders and orders[0].paid_fen:  # one fen less on the platform is found
        rows[0] = _row(orders[0].out_trade_no, orders[0].paid_fen - 1)
        assert [d.kind for d in differences(orders, rows)] == [Kind.AMOUNT_DIFFERS]


def test_an_unpaid_order_cannot_carry_money():
    with pytest.raises(AssertionError):
        OurOrder("A", UNPAID, 100)
