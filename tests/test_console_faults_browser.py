"""The console's fault periods page in a real browser (Chromium), on both databases:
what each role is offered, and an administrator declaring a period and cancelling it."""

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
from yibao.services import faults

skip_without_browser()

CODE = "H11010500002"


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_fault_periods_page_offers_each_role_only_what_it_may(page, site, role):  # noqa: F811
    with site.db.write() as conn:
        faults.declare(window_call(conn, site.clock, role="administrator"), CODE,
                       datetime(2026, 5, 11, 7), datetime(2026, 5, 11, 8), "link down")
    assert_role_sees_only_what_it_may(page, site, role, f"/faults?code={CODE}",
                                      {"faults.change"})


def test_an_administrator_declares_a_fault_period_and_cancels_it(page, site):  # noqa: F811
    sign_in(page, site, "administrator", then="/faults")
    page.select_option("#code", CODE)
    page.click("text=显示")
    page.wait_for_url(site.console(f"/faults?code={CODE}"))
    page.fill("#begin_at", "2026-05-11T06:30")
    page.fill("#end_at", "2026-05-11T08:45")
    page.fill("#fault-reason", "专线中断")
    page.click("#declare-fault")
    assert page.locator("#done").inner_text() == "故障时段已登记。"
    row = page.locator("#periods tbody tr").first
    assert "2026-05-11T06:30:00" in row.inner_text() and "生效中" in row.inner_text()
    fault_id = row.get_attribute("id").removeprefix("period-")
    page.fill(f"#reason-{fault_id}", "登记错了日期")
    page.click(f"#cancel-{fault_id}")
    assert page.locator("#done").inner_text() == "故障时段已撤销。"
    status = page.locator(f"#period-{fault_id} .period-status").inner_text()
    assert "已撤销" in status and "cancelled by admin: 登记错了日期" in status
