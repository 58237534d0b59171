"""The console's person pages, online orders and operators' log in a real browser
(Chromium): a clerk finds a person by ID number and reports a card lost, an administrator
suspends direct settlement and lifts it, what each role is offered, who sees the log, and
an order made through the channel."""

from __future__ import annotations

from datetime import date

import pytest

from browser import skip_without_browser
from calls import window_call
from console_site import (
    OPERATOR_OF,
    assert_role_sees_only_what_it_may,
    page,  # noqa: F401 (fixtures)
    sign_in,
    site,  # noqa: F401
)
from flows import WANG_FANG
from online import Till, open_shop
from test_console_orders import paid_order
from yibao.services import cards, persons

skip_without_browser()

WANG_CARD = "BJ0000000001"


def wang_psn_no(site) -> str:  # noqa: F811
    with site.db.read() as conn:
        return str(persons.search(conn, WANG_FANG)[0]["psn_no"])


def unnamed_controls(page) -> list[str]:  # noqa: F811
    """The page's controls a screen reader could not name (no label, no text)."""
    return page.evaluate("""() => [...document.querySelectorAll('input, select, button')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) &&
                     !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML)""")


def test_a_clerk_finds_a_person_by_id_number_and_reports_a_card_lost(page, site):  # noqa: F811
    sign_in(page, site, "clerk")
    page.click("nav >> text=参保人")
    page.fill("#q", WANG_FANG)
    page.click("#search")
    psn_no = wang_psn_no(site)
    assert page.locator("#persons tbody tr").count() == 1
    assert "110105********0027" in page.locator("#persons").inner_text()
    page.click(f"#person-{psn_no}")
    page.wait_for_url(site.console(f"/persons/{psn_no}"))
    assert page.locator("#certno").inner_text() == "110105********0027"
    assert unnamed_controls(page) == []
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click(f"#loss-{WANG_CARD}")
    page.locator("#done").wait_for()
    assert asked and WANG_CARD in asked[0]
    assert page.locator("#done").inner_text() == "社保卡已挂失。"
    assert page.locator(f"#card-status-{WANG_CARD}").inner_text() == "已挂失"
    assert page.locator(f"#loss-{WANG_CARD}").count() == 0


def test_a_dismissed_confirmation_reports_nothing(page, site):  # noqa: F811
    psn_no = wang_psn_no(site)
    sign_in(page, site, "clerk", then=f"/persons/{psn_no}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(f"#loss-{WANG_CARD}")
    page.wait_for_timeout(300)
    page.reload()
    assert page.locator(f"#card-status-{WANG_CARD}").inner_text() == "有效"


def test_an_administrator_suspends_direct_settlement_and_lifts_it(page, site):  # noqa: F811
    psn_no = wang_psn_no(site)
    sign_in(page, site, "administrator", then=f"/persons/{psn_no}")
    assert unnamed_controls(page) == []
    page.fill("#begin_date", "2026-05-01")
    page.fill("#end_date", "2026-08-31")
    page.fill("#reason", "lent the card to another person")
    page.click("#suspend-button")
    page.wait_for_url(site.console(f"/persons/{psn_no}?done=suspended"))
    state = page.locator("[id^=suspension-state-]")
    assert state.inner_text() == "生效中"
    number = (state.get_attribute("id") or "").rsplit("-", 1)[-1]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#lift-{number}")
    page.locator("#done", has_text="暂停已解除。").wait_for()
    assert page.locator(f"#suspension-state-{number}").inner_text().startswith("已解除")
    # an overlapping one is refused, the dates typed kept
    page.fill("#begin_date", "2026-05-01")
    page.fill("#end_date", "2026-05-31")
    page.fill("#reason", "again")
    page.click("#suspend-button")
    page.locator("[id^=suspension-state-]", has_text="生效中").wait_for()
    page.fill("#begin_date", "2026-05-20")
    page.fill("#end_date", "2026-06-30")
    page.fill("#reason", "overlapping")
    page.click("#suspend-button")
    assert "E-PSN-010" in page.locator("#error").inner_text()
    assert page.input_value("#begin_date") == "2026-05-20"


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_person_page_offers_each_role_only_what_it_may(page, site, role):  # noqa: F811
    psn_no = wang_psn_no(site)
    with site.db.write() as conn:  # a suspension in force, to be lifted
        cards.suspend(window_call(conn, site.clock, "admin", "administrator"), psn_no,
                      date(2026, 5, 1), date(2026, 5, 31), "lent the card")
    assert_role_sees_only_what_it_may(page, site, role, f"/persons/{psn_no}",
                                      {"cards.loss", "cards.replace", "suspensions.change",
                                       "persons.renumber", "persons.merge"})
    shown = page.locator("#audit").count() == 1
    assert shown == (role in ("auditor", "administrator"))


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_only_auditors_and_administrators_see_the_operators_log(page, site, role):  # noqa: F811
    sign_in(page, site, role)
    allowed = role in ("auditor", "administrator")
    assert (page.locator("nav >> text=操作日志").count() == 1) == allowed
    answer = page.goto(site.console("/log"))
    assert answer is not None and answer.status == (200 if allowed else 403)
    if allowed:
        assert page.locator("#actions tbody tr").count() >= 1
    else:
        assert page.locator("h1").inner_text() == "无权操作"


def test_the_online_orders_page_shows_an_order_made_through_the_channel(page, site):  # noqa: F811
    till = Till()
    with open_shop(site.db, site.clock, till) as shop:
        paid = paid_order(site.db, site.clock, shop, till, "MO-BROWSER", "5000.00")
    sign_in(page, site, "finance")
    page.click("nav >> text=线上订单")
    page.select_option("#status", "cash_refunded")
    page.click("#filter")
    page.click(f"text={paid.pay_ord_id}")
    page.wait_for_url(site.console(f"/orders/{paid.pay_ord_id}"))
    assert page.locator("#order-total").inner_text() == "5,000.00"
    assert page.locator("#order-status").inner_text() == "自费部分已退款"
    assert page.locator("#order-trade-no").inner_text() == f"42000{paid.pay_ord_id}"
    assert page.locator("#history tbody tr").count() == 3
    assert page.locator("#refunds tbody tr").count() == 1
    page.click("#order-settlement a")
    page.wait_for_url(site.console(f"/persons/{paid.psn_no}#settlement-*"))
    assert page.locator("[id^=settlement-]").count() >= 1
