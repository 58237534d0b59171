"""The console's institution page in a real browser (Chromium), on both databases: what
each role is offered, an administrator issuing an AK/SK pair whose secret is shown once
(a reload shows it no more) and switching the networked flag."""

from __future__ import annotations

from datetime import datetime

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
from yibao.services import faults, institutions

skip_without_browser()

CODE = "H11010500003"


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_institution_page_offers_each_role_only_what_it_may(page, site, role):  # noqa: F811
    assert_role_sees_only_what_it_may(page, site, role, f"/institutions/{CODE}",
                                      {"institutions.flags", "institutions.gateway",
                                       "institutions.diseases"})


def test_an_administrator_issues_a_pair_sees_the_secret_once_and_switches_a_flag(
    page, site  # noqa: F811
):
    sign_in(page, site, "administrator", then="/institutions")
    page.click(f"text={CODE}")
    page.wait_for_url(site.console(f"/institutions/{CODE}"))
    page.click("#issue-key")
    secret = page.locator("#secret").inner_text()
    access_key = page.locator("#access-key").inner_text()
    assert len(secret) == 48 and "仅显示这一次" in page.locator("#once").inner_text()
    page.reload()
    page.wait_for_url(site.console(f"/institutions/{CODE}"))
    assert page.locator("#secret").count() == 0 and secret not in page.content()
    assert access_key in page.locator("#keys").inner_text()
    with site.db.read() as conn:
        assert institutions.gateway_of(conn, CODE)["access_key"] == access_key

    assert page.locator("#flag-networked").inner_text() == "否"
    page.click("#switch-networked")
    assert page.locator("#done").inner_text() == "开关已更改，一分钟内生效。"
    assert page.locator("#flag-networked").inner_text() == "是"
    with site.db.read() as conn:
        assert institutions.listed(conn, CODE).networked


def test_every_control_of_the_three_pages_has_a_name(page, site):  # noqa: F811
    """A screen reader can say every field and button of the filings, fault periods and
    institution pages (an administrator and a clerk see every form between them)."""
    with site.db.write() as conn:
        faults.declare(window_call(conn, site.clock, role="administrator"), CODE,
                       datetime(2026, 5, 11, 7), datetime(2026, 5, 11, 8), "link down")
    for role, path in (("administrator", f"/institutions/{CODE}"),
                       ("administrator", f"/faults?code={CODE}"), ("clerk", "/filings")):
        sign_in(page, site, role, then=path)
        unnamed = page.evaluate("""() => [...document.querySelectorAll('input, select, button')]
            .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) &&
                         !e.getAttribute('aria-label') && !e.textContent.trim())
            .map(e => e.outerHTML)""")
        assert page.locator("form[data-permission]").count() >= 1, path
        assert unnamed == [], path
        page.context.clear_cookies()
