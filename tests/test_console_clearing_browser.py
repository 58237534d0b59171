"""The clearing page in a real browser (Chromium), on both databases: the finance office
runs a month and closes it (confirming first); each role is offered only the changes it
may make."""

from __future__ import annotations

import pytest

from browser import skip_without_browser
from calls import command_call
from console_site import (
    OPERATOR_OF,
    assert_role_sees_only_what_it_may,
    page,  # noqa: F401 (fixtures)
    sign_in,
    site,  # noqa: F401
)
from yibao.services import clearing

skip_without_browser()


def test_the_finance_office_runs_and_closes_a_month(page, site):  # noqa: F811
    sign_in(page, site, "finance", then="/clearing?month=2026-04")
    assert page.locator("#month-status").inner_text() == "尚未运行"
    assert page.locator("#close").count() == 0
    page.click("#run")
    page.wait_for_url(site.console("/clearing?done=clearing-run&month=2026-04"))
    assert page.locator("#done").inner_text() == "清算已运行。"
    assert page.locator("#month-status").inner_text() == "未关账"
    asked: list[str] = []

    def confirm(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    page.click("#close")
    page.locator("#month-status", has_text="已关账").wait_for()
    assert asked and "2026-04" in asked[0]
    assert page.locator("#run").count() == 0 and page.locator("#close").count() == 0
    assert page.locator("#months tbody tr").first.inner_text().split()[:2] == [
        "2026-04", "已关账"]


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_clearing_page_offers_each_role_only_what_it_may(page, site, role):  # noqa: F811
    with site.db.write(snapshot=True) as conn:
        clearing.run(command_call(conn, site.clock, "cli-operator"), "2026-04")
    assert_role_sees_only_what_it_may(page, site, role, "/clearing?month=2026-04",
                                      {"clearing.run", "clearing.close", "clearing.advance",
                                       "prepayment.propose"})
