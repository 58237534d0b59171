"""Properties of domain/orders.py, no database: whatever the split and whatever refunds
are asked in whatever order, each part is given back at most once and never more than
was paid, and an order that ends refunded has given back its total to the fen; 6203's
amounts are accepted exactly when they are what the refund gives back; every status has
its ordStas; every move outside the table is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.errors import Refused
from yibao.domain.orders import (
    ORD_STAS,
    TRANSITIONS,
    Action,
    OrderStatus,
    RefundAsked,
    Split,
    check_refund,
    history,
    move,
    refunded_parts,
    revs_token_valid,
)

REFUNDS = (Action.REFUND_ALL, Action.REFUND_HI, Action.REFUND_CASH)
REFUNDABLE = tuple(sorted({s for k in REFUNDS for s in TRANSITIONS[k]}))
PARTS = ("fund", "account", "cash")
FEN = st.integers(min_value=0, max_value=10**10)
SPLITS = st.builds(lambda fund, account, cash: Split(fund + account + cash, fund, account,
                                                     cash), FEN, FEN, FEN)
STEPS_MAX = 8


def _refused(code: str, action, *args) -> None:
    with pytest.raises(Refused) as caught:
        action(*args)
    assert caught.value.code == code


def _given_back(split: Split, kinds: list[Action]) -> tuple[OrderStatus, list[Split]]:
    """Apply the refunds asked, from a settled order; a kind the status does not allow is
    refused and changes nothing."""
    status, back = OrderStatus.SETTLED, []
    for kind in kinds:
        if status not in TRANSITIONS[kind]:
            _refused("E-ORD-003", refunded_parts, split, status, kind)
            continue
        back.append(refunded_parts(split, status, kind))
        status = move(status, kind)
    return status, back


def _check_never_more_than_paid_nor_twice(split: Split, back: list[Split]) -> None:
    for name in PARTS:
        paid, given = getattr(split, name), [getattr(b, name) for b in back]
        assert sum(given) <= paid, (name, split, back)
        assert all(g in (0, paid) for g in given), (name, split, back)  # whole or nothing
        if paid:
            assert sum(1 for g in given if g) <= 1, (name, split, back)
    for b in back:
        assert b.total == b.fund + b.account + b.cash


@given(split=SPLITS, kinds=st.lists(st.sampled_from(REFUNDS), max_size=STEPS_MAX))
def test_refunds_give_each_part_back_once_and_the_total_when_refunded(split, kinds):
    status, back = _given_back(split, kinds)
    _check_never_more_than_paid_nor_twice(split, back)
    if status is not OrderStatus.REFUNDED:  # the rest, as 6203 ALL would
        back.append(refunded_parts(split, status, Action.REFUND_ALL))
        status = move(status, Action.REFUND_ALL)
    _check_never_more_than_paid_nor_twice(split, back)
    assert status is OrderStatus.REFUNDED
    assert sum(b.total for b in back) == split.total
    assert tuple(sum(getattr(b, n) for b in back) for n in PARTS) == (
        split.fund, split.account, split.cash)
    for kind in REFUNDS:  # nothing is left to give back
        _refused("E-ORD-003", refunded_parts, split, status, kind)


REFUND_STEPS = [(status, kind) for kind in REFUNDS for status in TRANSITIONS[kind]]


@given(split=SPLITS, step=st.sampled_from(REFUND_STEPS), data=st.data())
def test_check_refund_accepts_exactly_what_the_refund_gives_back(split, step, data):
    status, kind = step
    parts = refunded_parts(split, status, kind)
    check_refund(split, parts, RefundAsked(split.total, parts.fund, parts.account, parts.cash))
    check_refund(split, parts, RefundAsked(split.total, None, None, parts.cash))  # left out
    name = data.draw(st.sampled_from(PARTS))
    due = getattr(parts, name)
    other = data.draw(FEN.filter(lambda v: v != due))
    sent = {n: getattr(parts, n) for n in PARTS} | {name: other}
    _refused("E-ORD-006", check_refund, split, parts,
             RefundAsked(split.total, sent["fund"], sent["account"], sent["cash"]))
    total = data.draw(FEN.filter(lambda v: v != split.total))
    _refused("E-ORD-006", check_refund, split, parts,
             RefundAsked(total, parts.fund, parts.account, parts.cash))


def test_every_status_has_its_own_ord_stas():
    assert set(ORD_STAS) == set(OrderStatus)
    assert len(set(ORD_STAS.values())) == len(OrderStatus)
    assert all(code.isdigit() for code in ORD_STAS.values())


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(OrderStatus))
def test_a_move_outside_the_table_is_refused(status, action):
    to = TRANSITIONS[action].get(status)
    if to is not None:
        assert move(status, action) is to
        return
    with pytest.raises(Refused) as caught:
        move(status, action)
    assert caught.value.code == "E-ORD-003"
    assert ORD_STAS[status] in caught.value.message
    if action in REFUNDS:
        _refused("E-ORD-003", refunded_parts, Split(3, 1, 1, 1), status, action)


def test_only_settled_orders_give_anything_back():
    assert set(REFUNDABLE) == {OrderStatus.SETTLED, OrderStatus.HI_REFUNDED,
                               OrderStatus.CASH_REFUNDED}


def test_a_revs_token_is_valid_for_the_hour_after_settlement_and_not_before_it():
    settled = datetime(2026, 5, 11, 9, 30)
    assert revs_token_valid(settled, settled)
    assert revs_token_valid(settled, settled + timedelta(hours=1))  # the end included
    assert not revs_token_valid(settled, settled + timedelta(hours=1, seconds=1))
    assert not revs_token_valid(None, settled)  # not settled: no reversal by token


def test_the_history_lists_the_moments_the_order_kept_oldest_first():
    t0 = datetime(2026, 5, 11, 9, 0)
    S = OrderStatus
    paid = history(S.SETTLED, created_at=t0, held_at=t0 + timedelta(minutes=1),
                   settled_at=t0 + timedelta(minutes=2), closed_at=None)
    assert [step for step, _at in paid] == [S.UPLOADED, S.HELD, S.SETTLED]
    assert [at for _step, at in paid] == [t0 + timedelta(minutes=m) for m in range(3)]
    never_held = history(S.EXPIRED, created_at=t0, held_at=None, settled_at=None,
                         closed_at=t0 + timedelta(minutes=30))
    assert never_held == [(S.UPLOADED, t0), (S.EXPIRED, t0 + timedelta(minutes=30))]
    refunded = history(S.REFUNDED, created_at=t0, held_at=t0, settled_at=t0,
                       closed_at=t0 + timedelta(days=1))
    assert refunded[-1] == (S.REFUNDED, t0 + timedelta(days=1))
    open_one = history(S.HELD, created_at=t0, held_at=t0, settled_at=None, closed_at=None)
    assert [step for step, _at in open_one] == [S.UPLOADED, S.HELD]
