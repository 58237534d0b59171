"""The cashier page in a real browser: yibao served by uvicorn on a free port (a file
SQLite database), the WeChat Pay simulator in its own process (yibao reaching it with
wechatpayv3) whose H5 pay page is on another site (``localhost`` against yibao's
``127.0.0.1``), and Chromium driven by Playwright opening the cashierUrl with a
payAuthNo, reading the split, confirming, paying on the simulator's page and coming back
to the result (settled by the simulator's signed notification or, if the person is back
first, by yibao asking the platform: once either way).

Skipped only when /usr/bin/chromium (or Playwright) is missing and YIBAO_REQUIRE_BROWSER
is not set; CI (.ci/run) installs Chromium and sets it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from apps import ChannelApp
from browser import STEP_MS, skip_without_browser
from cashier_flow import ORDER_FIELDS, cashier_link, uploaded_order, yuan_to_fen
from conftest import FakeClock
from online import fee_line
from servers import Remote, Served, simulator
from yibao.api.app import create_app
from yibao.api.paynotify import PATH
from yibao.api.tx_online import Online
from yibao.bench.server import free_port
from yibao.client import HisClient, httpx_transport
from yibao.services import ledger
from yibao.services.context import china_now
from yibao.store import online_orders
from yibao.store.db import Database
from yibao.store.demo import demo_token, seed_demo
from yibao.thirdpay.platform import TradeState
from yibao.thirdpay.wechat import WeChatConfig, WeChatPayPlatform

PRICEY = "XC03CCC0003"  # 丙类: the person pays it all
skip_without_browser()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Database, FakeClock]]:
    db = Database(str(tmp_path / "cashier.db"))
    db.migrate()
    with db.write() as conn:
        seed_demo(conn)
    # the simulator keeps real time (an order's time_expire): so does yibao here
    yield db, FakeClock(china_now().replace(tzinfo=None, microsecond=0))
    with db.read() as conn:
        assert ledger.verify(conn) == []
    db.dispose()


@pytest.fixture
def servers(world) -> Iterator[tuple[str, str, WeChatPayPlatform, FastAPI]]:
    """yibao at 127.0.0.1, the WeChat Pay simulator (its own process) reached as
    localhost: another site, as a real platform's page is."""
    db, clock = world
    yibao = f"http://127.0.0.1:{free_port()}"
    with simulator() as sim:
        platform_base = sim.replace("127.0.0.1", "localhost")
        platform = WeChatPayPlatform(WeChatConfig.from_env(
            {"YIBAO_WECHATPAY_URL": platform_base}))
        made = create_app(db, clock=clock, online=Online(platform, yibao + PATH, yibao))
        made.state.clock = clock
        with Served(made, "127.0.0.1", int(yibao.rsplit(":", 1)[1])):
            yield yibao, platform_base, platform, made


def test_the_person_pays_through_the_cashier_page_in_a_browser(world, servers, browser):
    db, clock = world
    yibao, platform_base, platform, made = servers
    his = HisClient(httpx_transport(httpx.Client(timeout=10), yibao), "H11010500001",
                    demo_token("H11010500001"))
    his.sign_in()
    psn_no, uploaded = uploaded_order(his, ChannelApp(Remote(yibao, made)),
                                      [fee_line("1", PRICEY, "120.50", "2")])
    pay_ord_id = uploaded["payOrdId"]
    assert uploaded["cashierUrl"] == f"{yibao}/cashier/{pay_ord_id}"
    link = yibao + cashier_link(db, clock, psn_no, uploaded)
    context = browser.new_context()
    try:
        _drive(context.new_page(), db, link, yibao, platform_base, pay_ord_id)
    finally:
        context.close()
    trade = platform.query(pay_ord_id)  # paid once, at the platform, the part shown
    assert trade.state is TradeState.PAID and trade.amount_fen == 24100
    assert _order(db, pay_ord_id)["trade_no"] == trade.trade_no


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
    page.wait_for_url(f"{platform}/pay/h5?**")
    assert page.locator("h1").inner_text() == "微信支付 / WeChat Pay (simulator)"
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
