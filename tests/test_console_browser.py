"""The console's frame in a real browser (Chromium): signing in, the keyboard, both
languages, a tablet's screen, and the outbox page for every role."""

from __future__ import annotations

import pytest

from browser import skip_without_browser
from console_site import (
    OPERATOR_OF,
    assert_role_sees_only_what_it_may,
    failed_message,
    page,  # noqa: F401 (fixtures)
    sign_in,
    site,  # noqa: F401
)

skip_without_browser()


def test_an_operator_signs_in_with_the_keyboard_and_finds_the_pages(page, site):  # noqa: F811
    page.goto(site.console())
    page.wait_for_url(site.console("/signin?next=%2Fconsole"))
    assert page.locator("h1").inner_text() == "登录"
    assert page.evaluate("document.activeElement.id") == "name"  # autofocus
    page.keyboard.type("auditor")
    page.keyboard.press("Tab")
    page.keyboard.type("demo-auditor")
    page.keyboard.press("Enter")
    page.wait_for_url(site.console())
    assert page.locator("#roles").inner_text() == "稽核"
    # the first Tab reaches the skip link, which moves the focus to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # every control has a name a screen reader can say
    unnamed = page.evaluate("""() => [...document.querySelectorAll('input, select, button')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) &&
                     !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML)""")
    assert unnamed == []


def test_a_wrong_token_says_so_and_keeps_the_name(page, site):  # noqa: F811
    page.goto(site.console("/signin"))
    page.fill("#name", "auditor")
    page.fill("#token", "demo-admin")
    page.click("#signin")
    assert "E-ADM-002" in page.locator("#error").inner_text()
    assert page.input_value("#name") == "auditor"


def test_the_language_switches_and_stays(page, site):  # noqa: F811
    sign_in(page, site, "auditor")
    page.select_option("#lang", "en")
    page.click("text=切换")
    assert page.locator("h1").inner_text() == "Welcome, auditor"
    page.click("nav >> text=Outbox")
    assert page.locator("h1").inner_text() == "Outbox"
    assert page.locator("html").get_attribute("lang") == "en"


def test_on_a_tablet_the_navigation_sits_above_the_page(browser, site):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 768, "height": 1024})
    tablet = context.new_page()
    try:
        sign_in(tablet, site, "auditor")
        nav = tablet.locator("nav").bounding_box()
        main = tablet.locator("main").bounding_box()
        assert nav and main and nav["y"] + nav["height"] <= main["y"] + 1
        width = tablet.evaluate("document.documentElement.scrollWidth")
        assert width <= 768  # nothing wider than the screen
    finally:
        context.close()


def test_an_administrator_sends_a_failed_message_again(page, site):  # noqa: F811
    failed_message(site.db, site.clock, "S-BROWSER")
    sign_in(page, site, "administrator", then="/outbox?status=failed")
    assert page.locator("#count-failed").inner_text() == "1"
    page.click("text=S-BROWSER")
    page.click("#retry")
    page.wait_for_url(site.console("/outbox/S-BROWSER?done=retried"))
    assert page.locator("#done").inner_text() == "该消息将重新发送。"
    assert page.locator("#message-status").inner_text() == "待发送"


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_outbox_message_page_offers_each_role_only_what_it_may(page, site, role):  # noqa: F811
    failed_message(site.db, site.clock, "S-ROLES")
    assert_role_sees_only_what_it_may(page, site, role, "/outbox/S-ROLES", {"outbox.retry"})
