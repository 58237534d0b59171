"""An online order driven as a hospital app would: the ecToken from a scan, 6201 in
the national envelope, the person's authorisation in the channel, 6202. ``Till`` is an
in-memory payment platform for the service-level tests (the end-to-end tests use the
WeChat Pay simulator in its own process)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.testclient import TestClient

from apps import ChannelApp
from flows import ok
from yibao.api.app import create_app
from yibao.api.tx_online import Online
from yibao.client import HisClient, httpx_transport
from yibao.services import online
from yibao.services.context import Actor, ActorKind, Call, Entry, Ids
from yibao.store.demo import demo_token
from yibao.store.policy_files import load_policies
from yibao.thirdpay.platform import Created, PlatformDown, Refund, Trade, TradeState


@dataclass
class Till:
    """A payment platform kept in memory: orders created, paid by the test, refunded.
    Safe to call from several threads at once (the race tests): one call at a time."""

    thd_pay_type = "WECHAT"  # the platform it stands in for (6204's thdPayType)
    down: bool = False
    trades: dict[str, Trade] = field(default_factory=dict)
    refunds: list[tuple[str, str, int]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _up(self) -> None:
        if self.down:
            raise PlatformDown("the platform does not answer")

    def create(self, out_trade_no, amount_fen, description, notify_url, expire_at) -> Created:
        with self._lock:
            self._up()
            self.trades.setdefault(out_trade_no, Trade(out_trade_no, "", TradeState.NOTPAY,
                                                       amount_fen, None))
            return Created(f"https://pay.example/{out_trade_no}", f"wx{out_trade_no}")

    def pay(self, out_trade_no: str, at: datetime, amount_fen: int | None = None) -> Trade:
        with self._lock:
            before = self.trades[out_trade_no]
            paid = Trade(out_trade_no, f"42000{out_trade_no}", TradeState.PAID,
                         before.amount_fen if amount_fen is None else amount_fen, at)
            self.trades[out_trade_no] = paid
            return paid

    def return_to(self, pay_url: str, return_url: str) -> str:
        return f"{pay_url}?return={quote(return_url, safe='')}"

    def query(self, out_trade_no: str) -> Trade:
        with self._lock:
            self._up()
            return self.trades[out_trade_no]

    def close(self, out_trade_no: str) -> None:
        with self._lock:
            self._up()
            self.closed.append(out_trade_no)

    def refund(self, out_trade_no, out_refund_no, refund_fen, total_fen) -> Refund:
        with self._lock:
            self._up()
            self.refunds.append((out_trade_no, out_refund_no, refund_fen))
            return Refund("SUCCESS", f"50300{out_refund_no}")

    def bill(self, day):  # not used by these tests
        raise NotImplementedError

    def notification(self, headers, body) -> Trade:  # not used by these tests
        raise NotImplementedError


def scan_token(his, app: ChannelApp, cert_id: str, business: str = "01101",
               infno: str = "1162") -> str:
    """The ecToken of a fresh QR code decoded by 1162 (or 6101, its online-payment name)."""
    code = app.qr(cert_id).json()["qr_code"]
    return str(ok(his.call(infno, {"data": {
        "ecQrCode": code, "businessType": business, "orgId": his.code, "operatorId": "001",
        "operatorName": "收费员", "officeId": "K01", "officeName": "内科"}}))["data"]["ecToken"])


def fee_line(sn: str, code: str, price: str, count: str = "1") -> dict:
    amount = (Decimal(price) * Decimal(count)).quantize(Decimal("0.01"))
    return {"feedetlSn": sn, "chrgBchno": "B1", "rxCircFlag": "0",
            "feeOcurTime": "2026-05-11 09:10:00", "medListCodg": code,
            "medinsListCodg": f"HIS-{code}", "detItemFeeSumamt": str(amount), "cnt": count,
            "pric": price, "bilgDeptCodg": "K01", "bilgDeptName": "内科",
            "bilgDrCodg": "D001", "bilgDrName": "医生甲", "hospApprFlag": "1", "medType": "11"}


def upload_data(his, psn_no: str, token: str, lines: list[dict], *, order: str = "MO1",
                mdtrt_id: str = "", account: bool = True) -> dict:
    total = sum(Decimal(x["detItemFeeSumamt"]) for x in lines)
    for x in lines:
        x.update(psnNo=psn_no, mdtrtId=mdtrt_id)
    return {"data": {
        "orgCodg": his.code, "psnNo": psn_no, "insutype": "310", "medOrgOrd": order,
        "begntime": "2026-05-11 09:00:00", "idNo": "", "userName": "王芳", "idType": "01",
        "ecToken": token, "iptOtpNo": f"OP-{order}", "atddrNo": "D001", "drName": "医生甲",
        "deptCode": "K01", "deptName": "内科", "caty": "A03", "mdtrtId": mdtrt_id,
        "medType": "11", "feeType": "01", "medfeeSumamt": str(total),
        "acctUsedFlag": "1" if account else "0",
        "psnSetlway": "01", "chrgBchno": "B1", "extData": {},
        "diseinfoList": [{"diagType": "1", "diagSrtNo": "1", "diagCode": "J06.9",
                          "diagName": "上呼吸道感染", "diagDept": "内科", "diseDorNo": "D001",
                          "diseDorName": "医生甲", "diagTime": "2026-05-11 09:05:00",
                          "valiFlag": "1"}],
        "feedetailList": lines}}


def authorise(db, clock, psn_no: str, pay_ord_id: str, channel: str = "CH-BJAPP") -> str:
    """The payAuthNo the channel's authorisation gives (the service the channel route
    calls, with the channel's call)."""
    with db.write() as conn:
        call = Call(conn=conn, actor=Actor(ActorKind.CHANNEL, channel), entry=Entry.CHANNEL,
                    now=clock(), ids=Ids(clock), policies=())
        return online.authorise(call, psn_no, pay_ord_id).value


def pay_data(his, uploaded: dict, auth: str, ser: str = "BIZ1") -> dict:
    return {"data": {"payAuthNo": auth, "payOrdId": uploaded["payOrdId"],
                     "payToken": uploaded["payToken"], "orgCodg": his.code, "orgBizSer": ser,
                     "mdtrtId": uploaded["extData"]["mdtrtId"]}}


@dataclass(frozen=True)
class Shop:
    """The app with an in-memory platform, a signed-in HIS and a certified channel app."""

    app: FastAPI
    his: HisClient
    channel: ChannelApp


@contextmanager
def open_shop(db, clock, till: Till) -> Iterator[Shop]:
    made = create_app(db, clock=clock, online=Online(till, "http://yibao.test/notify",
                                                     "http://yibao.test"))
    made.state.clock = clock
    with TestClient(made) as http:
        his = HisClient(httpx_transport(http), "H11010500001", demo_token("H11010500001"))
        his.sign_in()
        yield Shop(made, his, ChannelApp(http))


def as_platform(db, clock, action: Callable[[Call], Any]) -> Any:
    """``action`` in a transaction of its own, as the platform's notification route or
    the sweeper would run it (the system acting)."""
    with db.write() as conn:
        call = Call(conn=conn, actor=Actor(ActorKind.SYSTEM, "platform"),
                    entry=Entry.PLATFORM, now=clock(), ids=Ids(clock),
                    policies=load_policies())
        return action(call)


def place_order(his, app: ChannelApp, cert_id: str, psn_no: str, lines: list[dict],
                order: str = "MO1", *, account: bool = True) -> dict:
    """6201 with a fresh ecToken: its answer's data."""
    token = scan_token(his, app, cert_id)
    return ok(his.call("6201", upload_data(his, psn_no, token, lines, order=order,
                                           account=account)))["data"]
