"""The ``online_order`` aggregate: orders of the mobile-payment centre, the room they
hold (``online_hold``), the payment authorisations (``pay_auth``) and refunds
(``online_refund``). Each statement is built once, at import."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    RowMapping,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from yibao.domain.orders import OrderStatus
from yibao.store.schema import (
    fee_line,
    mpc_app,
    online_hold,
    online_order,
    online_refund,
    pay_auth,
)

_HELD = OrderStatus.HELD.value


def held_account(psn_no: ColumnElement[str]) -> Any:
    """A scalar subquery: the personal account held by the person's held orders (0)."""
    return (
        select(cast(func.coalesce(func.sum(online_order.c.acct_pay), 0), BigInteger))
        .where(online_order.c.psn_no == psn_no, online_order.c.status == _HELD)
        .scalar_subquery()
    )


_ORDER = select(online_order).where(online_order.c.pay_ord_id == bindparam("pay_ord_id"))
_ORDER_LOCKED = _ORDER.with_for_update()
_OF_PRESCRIPTION = select(online_order).where(
    online_order.c.hi_rxno == bindparam("hi_rxno")).order_by(online_order.c.created_at)
_BY_MED_ORG_ORD = select(online_order).where(
    online_order.c.fixmedins_code == bindparam("code"),
    online_order.c.med_org_ord == bindparam("med_org_ord"))


def find(conn: Connection, pay_ord_id: str, *, lock: bool = False) -> RowMapping | None:
    query = _ORDER_LOCKED if lock else _ORDER
    return conn.execute(query, {"pay_ord_id": pay_ord_id}).mappings().first()


def by_med_org_ord(conn: Connection, code: str, med_org_ord: str) -> RowMapping | None:
    return conn.execute(_BY_MED_ORG_ORD, {"code": code, "med_org_ord": med_org_ord}
                        ).mappings().first()


def of_prescription(conn: Connection, hi_rxno: str) -> list[RowMapping]:
    """The orders paying for an electronic prescription, oldest first."""
    return list(conn.execute(_OF_PRESCRIPTION, {"hi_rxno": hi_rxno}).mappings())


def add(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(online_order).values(**row))


def change(conn: Connection, pay_ord_id: str, expected: OrderStatus, **values: Any) -> None:
    """Update the order if it is still in ``expected`` (the caller holds the person's
    lock, so it is: an assertion)."""
    done = conn.execute(update(online_order).where(
        online_order.c.pay_ord_id == pay_ord_id, online_order.c.status == expected.value,
    ).values(**values)).rowcount
    assert done == 1, (pay_ord_id, expected, values)


def due(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Open orders past their lifetime, oldest first."""
    return list(conn.execute(
        select(online_order.c.pay_ord_id).where(
            online_order.c.status.in_((OrderStatus.UPLOADED.value, _HELD)),
            online_order.c.expires_at <= now,
        ).order_by(online_order.c.expires_at).limit(limit)).scalars())


def held_since(conn: Connection, before: datetime, limit: int) -> list[str]:
    """Held orders (a payment may have been made) held before ``before``."""
    return list(conn.execute(
        select(online_order.c.pay_ord_id).where(
            online_order.c.status == _HELD, online_order.c.held_at <= before,
        ).order_by(online_order.c.held_at).limit(limit)).scalars())


def of_person(conn: Connection, psn_no: str, limit: int, offset: int) -> list[RowMapping]:
    return list(conn.execute(
        select(online_order).where(online_order.c.psn_no == psn_no)
        .order_by(online_order.c.created_at.desc(), online_order.c.pay_ord_id.desc())
        .limit(limit).offset(offset)).mappings())


def newest(conn: Connection, *, status: str = "", fixmedins_code: str = "",
           limit: int) -> list[RowMapping]:
    """The newest orders (for the bureau's operators), of one status and one institution
    when given."""
    query = select(online_order)
    if status:
        query = query.where(online_order.c.status == status)
    if fixmedins_code:
        query = query.where(online_order.c.fixmedins_code == fixmedins_code)
    return list(conn.execute(query.order_by(online_order.c.created_at.desc(),
                                            online_order.c.pay_ord_id.desc())
                             .limit(limit)).mappings())


# ---------------------------------------------------------------- the order's fee lines


def reserve_lines(conn: Connection, mdtrt_id: str, ids: Sequence[int], pay_ord_id: str) -> None:
    """Mark the uploaded lines as the order's: no other settlement takes them."""
    done = conn.execute(update(fee_line).where(
        fee_line.c.id.in_(ids), fee_line.c.mdtrt_id == mdtrt_id, fee_line.c.setl_id.is_(None),
    ).values(setl_id=pay_ord_id)).rowcount
    assert done == len(ids), (pay_ord_id, done, len(ids))


def lines(conn: Connection, pay_ord_id: str, mdtrt_id: str) -> list[RowMapping]:
    return list(conn.execute(select(fee_line).where(
        fee_line.c.mdtrt_id == mdtrt_id, fee_line.c.setl_id == pay_ord_id,
        fee_line.c.status == "active").order_by(fee_line.c.id)).mappings())


def cancel_lines(conn: Connection, pay_ord_id: str, mdtrt_id: str) -> None:
    """The order's lines are cancelled with it (6401, expiry): they stay marked with it."""
    conn.execute(update(fee_line).where(
        fee_line.c.mdtrt_id == mdtrt_id, fee_line.c.setl_id == pay_ord_id,
        fee_line.c.status == "active").values(status="cancelled"))


def settle_lines(conn: Connection, pay_ord_id: str, mdtrt_id: str, setl_id: str) -> int:
    return conn.execute(update(fee_line).where(
        fee_line.c.mdtrt_id == mdtrt_id, fee_line.c.setl_id == pay_ord_id,
        fee_line.c.status == "active").values(setl_id=setl_id)).rowcount


# ---------------------------------------------------------------- held room


def hold(conn: Connection, pay_ord_id: str, psn_no: str, insutype: str,
         deltas: Sequence[tuple[str, str, int]]) -> None:
    rows = [dict(pay_ord_id=pay_ord_id, psn_no=psn_no, insutype=insutype, period=p,
                 cum_key=k, amount=d) for p, k, d in deltas if d != 0]
    if rows:
        conn.execute(insert(online_hold), rows)


def release(conn: Connection, pay_ord_id: str) -> None:
    conn.execute(delete(online_hold).where(online_hold.c.pay_ord_id == pay_ord_id))


# ---------------------------------------------------------------- authorisations


def add_auth(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(pay_auth).values(**row))


def auth(conn: Connection, auth_hash: str) -> RowMapping | None:
    return conn.execute(select(pay_auth).where(pay_auth.c.auth_hash == auth_hash)
                        .with_for_update()).mappings().first()


def use_auth(conn: Connection, auth_hash: str, now: datetime) -> bool:
    """Spend the authorisation (False: it was spent already)."""
    return conn.execute(update(pay_auth).where(
        pay_auth.c.auth_hash == auth_hash, pay_auth.c.used_at.is_(None),
    ).values(used_at=now)).rowcount == 1


# ---------------------------------------------------------------- refunds


def refund(conn: Connection, pay_ord_id: str, app_refd_sn: str) -> RowMapping | None:
    return conn.execute(select(online_refund).where(
        online_refund.c.pay_ord_id == pay_ord_id,
        online_refund.c.app_refd_sn == app_refd_sn)).mappings().first()


def refunds(conn: Connection, pay_ord_id: str) -> list[RowMapping]:
    return list(conn.execute(select(online_refund).where(
        online_refund.c.pay_ord_id == pay_ord_id).order_by(online_refund.c.created_at))
        .mappings())


def add_refund(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(online_refund).values(**row))


def refund_done(conn: Connection, refd_sn: str, status: str, platform_refund_no: str) -> None:
    conn.execute(update(online_refund).where(online_refund.c.refd_sn == refd_sn).values(
        status=status, platform_refund_no=platform_refund_no))


def pending_refunds(conn: Connection, limit: int) -> list[RowMapping]:
    """Refunds whose cash part the platform has not confirmed (EXP), oldest first."""
    return list(conn.execute(select(online_refund).where(online_refund.c.status == "EXP")
                             .order_by(online_refund.c.created_at).limit(limit)).mappings())


def callback_url(conn: Connection, code: str) -> str:
    """Where the institution takes 6204/6302 (its mobile-payment app's callback; "")."""
    url: str | None = conn.execute(select(mpc_app.c.callback_url).where(
        mpc_app.c.fixmedins_code == code, mpc_app.c.callback_url != "")
        .order_by(mpc_app.c.app_id).limit(1)).scalar_one_or_none()
    return url or ""


def refund_by_sn(conn: Connection, refd_sn: str) -> RowMapping | None:
    return conn.execute(select(online_refund).where(online_refund.c.refd_sn == refd_sn)
                        ).mappings().first()


def of_day(conn: Connection, start: datetime, end: datetime) -> list[RowMapping]:
    """Orders that reached the platform (a pay URL) and were made or settled in
    [start, end)."""
    return list(conn.execute(select(online_order).where(
        online_order.c.pay_url != "",
        ((online_order.c.created_at >= start) & (online_order.c.created_at < end))
        | ((online_order.c.settled_at >= start) & (online_order.c.settled_at < end)),
    ).order_by(online_order.c.pay_ord_id)).mappings())


def refunds_of_day(conn: Connection, start: datetime, end: datetime) -> list[RowMapping]:
    """Refunds with a cash part the platform took (not FAIL) made in [start, end)."""
    return list(conn.execute(select(online_refund).where(
        online_refund.c.created_at >= start, online_refund.c.created_at < end,
        online_refund.c.cash_refd > 0, online_refund.c.status != "FAIL",
    ).order_by(online_refund.c.refd_sn)).mappings())
