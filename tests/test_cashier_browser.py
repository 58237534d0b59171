"""The cashier page in a real browser: yibao served by uvicorn on a free port (a file
SQLite database), a payment platform whose pay page is served by this test on another
site (``localhost`` against yibao's ``127.0.0.1``), and Chromium driven by Playwright
opening the cashierUrl with a payAuthNo, reading the split, confirming, paying and
coming back to the result.

Skipped only when /usr/bin/chromium (or Playwright) is missing and YIBAO_REQUIRE_BROWSER
is not set; CI (.ci/run) installs Chromium and sets it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse

from apps import ChannelApp
from cashier_flow import ORDER_FIELDS, cashier_link, uploaded_order, yuan_to_fen
from conftest import FakeClock
from online import Till, fee_line
from servers import Remote, Served
from yibao.api.app import create_app
from yibao.api.tx_online import Online
from yibao.bench.server import free_port
from yibao.client import HisClient, httpx_transport
from yibao.services import ledger, online_payment
from yibao.services.context import Actor, ActorKind, Call, Entry, Ids
from yibao.store import online_orders
from yibao.store.db import Database
from yibao.store.demo import demo_token, seed_demo
from yibao.store.policy_files import load_policies
from yibao.thirdpay.platform import Created

CHROMIUM = "/usr/bin/chromium"
REQUIRED = bool(os.environ.get("YIBAO_REQUIRE_BROWSER"))
STEP_MS = 15_000  # a page or a navigation, at most
PRICEY = "XC03CCC0003"  # 丙类: the person pays it all


def _browser_missing() -> str:
    """Why the browser test cannot run here ("" when it can)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return ""


MISSING = _browser_missing()
if MISSING and not REQUIRED:
    pytest.skip(f"browser test skipped: {MISSING}", allow_module_level=True)


@dataclass
class PayDesk(Till):
    """The payment platform: orders kept in memory (Till), the pay page served by this
    test at ``base``."""

    base: str = ""

    def create(self, out_trade_no, amount_fen, description, notify_url, expire_at) -> Created:
        created = super().create(out_trade_no, amount_fen, description, notify_url, expire_at)
        return Created(f"{self.base}/pay/{out_trade_no}", created.prepay_id)


def _platform_call(db: Database, clock: FakeClock, action):
    with db.write() as conn:
        return action(Call(conn=conn, actor=Actor(ActorKind.SYSTEM, "platform"),
                           entry=Entry.PLATFORM, now=clock(), ids=Ids(clock),
                           policies=load_policies()))


def pay_pages(desk: PayDesk, db: Database, clock: FakeClock, yibao: str) -> FastAPI:
    """The platform's pay page: the amount and a pay button; paying notifies yibao (the
    service a verified notification reaches) and sends the person back to the result."""
    pages = FastAPI()

    @pages.get("/pay/{out_trade_no}")
    def show(out_trade_no: str) -> HTMLResponse:
        trade = desk.trades[out_trade_no]
        return HTMLResponse(
            f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>收银台'
            f'</title></head><body><h1>支付 / Pay</h1><p id="amount">¥{trade.amount_fen // 100}'
            f'.{trade.amount_fen % 100:02d}</p><form method="post" action="/pay/'
            f'{escape(out_trade_no)}"><button id="pay" type="submit">立即支付 / Pay now'
            '</button></form></body></html>')

    @pages.post("/pay/{out_trade_no}")
    def pay(out_trade_no: str) -> RedirectResponse:
        trade = desk.pay(out_trade_no, clock())
        _platform_call(db, clock, lambda call: online_payment.on_trade(call, trade, desk))
        return RedirectResponse(f"{yibao}/cashier/{out_trade_no}/result", status_code=303)

    return pages


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Database, FakeClock]]:
    db = Database(str(tmp_path / "cashier.db"))
    db.migrate()
    with db.write() as conn:
        seed_demo(conn)
    yield db, FakeClock(datetime(2026, 5, 11, 9, 30, 0))
    with db.read() as conn:
        assert ledger.verify(conn) == []
    db.dispose()


@pytest.fixture
def servers(world) -> Iterator[tuple[str, str, PayDesk, FastAPI]]:
    """yibao at 127.0.0.1, the platform's pages at localhost (another site)."""
    db, clock = world
    yibao = f"http://127.0.0.1:{free_port()}"
    desk = PayDesk()
    made = create_app(db, clock=clock, online=Online(desk, f"{yibao}/notify", yibao))
    made.state.clock = clock
    platform_port = free_port()
    desk.base = f"http://localhost:{platform_port}"
    with (Served(made, "127.0.0.1", int(yibao.rsplit(":", 1)[1])),
          Served(pay_pages(desk, db, clock, yibao), "localhost", platform_port)):
        yield yibao, desk.base, desk, made


def test_the_person_pays_through_the_cashier_page_in_a_browser(world, servers):
    from playwright.sync_api import sync_playwright

    db, clock = world
    yibao, platform, desk, made = servers
    his = HisClient(httpx_transport(httpx.Client(timeout=10), yibao), "H11010500001",
                    demo_token("H11010500001"))
    his.sign_in()
    psn_no, uploaded = uploaded_order(his, ChannelApp(Remote(yibao, made)),
                                      [fee_line("1", PRICEY, "120.50", "2")])
    pay_ord_id = uploaded["payOrdId"]
    assert uploaded["cashierUrl"] == f"{yibao}/cashier/{pay_ord_id}"
    link = yibao + cashier_link(db, clock, psn_no, uploaded)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            _drive(browser.new_page(), db, link, yibao, platform, pay_ord_id)
        finally:
            browser.close()
    assert desk.trades[pay_ord_id].trade_no  # paid once, at the platform


def _order(db: Database, pay_ord_id: str):
    with db.read() as conn:
        return online_orders.find(conn, pay_ord_id)


def _drive(page, db: Database, link: str, yibao: str, platform: str, pay_ord_id: str) -> None:
    page.set_default_timeout(STEP_MS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(link)
    order = _order(db, pay_ord_id)
    assert order["status"] == "held"
    assert page.locator("h1").inner_text() == "确认订单 / Your order"
    for ident, column in ORDER_FIELDS.items():
        assert yuan_to_fen(page.locator(f"#{ident}").inner_text()) == order[column], ident
    assert order["cash_pay"] == 24100
    assert page.locator("#order").inner_text() == pay_ord_id
    # the local stylesheet is applied, the Chinese font is there
    colour = page.eval_on_selector("#confirm", "e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(26, 127, 55)"
    assert page.evaluate("document.fonts.check('16px \"WenQuanYi Micro Hei\"')")
    page.click("#confirm")
    page.wait_for_url(f"{platform}/pay/{pay_ord_id}")
    assert yuan_to_fen(page.locator("#amount").inner_text()) == order["cash_pay"]
    page.click("#pay")
    page.wait_for_url(f"{yibao}/cashier/{pay_ord_id}/result")
    assert page.locator("#status").inner_text() == "已结算 / Settled"
    # sent back from another site: the SameSite=Strict cookie stays home, no amounts
    assert page.locator("#cash-pay").count() == 0
    assert _order(db, pay_ord_id)["status"] == "settled"
    page.goto(f"{yibao}/cashier/{pay_ord_id}/result")  # opened directly: the session's view
    assert page.locator("#status").inner_text() == "已结算 / Settled"
    assert yuan_to_fen(page.locator("#cash-pay").inner_text()) == 24100
    assert all(url.startswith((yibao, platform)) for url in requested), requested
