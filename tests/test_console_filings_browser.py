"""The console's filings page in a real browser (Chromium), on both databases: what
each role is offered, and a clerk registering a filing and cancelling it."""

from __future__ import annotations

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
from yibao.services import filing

skip_without_browser()

ZHAO = "13010200000000000005"  # 赵磊, insured in Hebei


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_filings_page_offers_each_role_only_what_it_may(page, site, role):  # noqa: F811
    with site.db.write() as conn:
        filing.register(window_call(conn, site.clock, role="clerk"), filing.NewFiling(
            psn_no=ZHAO, filing_type="resident", insutype="", area="110000"))
    assert_role_sees_only_what_it_may(page, site, role, f"/filings?psn_no={ZHAO}",
                                      {"filings.register", "filings.cancel"})


def test_a_clerk_registers_a_filing_and_cancels_it(page, site):  # noqa: F811
    sign_in(page, site, "clerk", then="/filings")
    page.fill("#psn_no", ZHAO)
    page.select_option("#filing_type", "referral")
    page.fill("#area", "110000")
    page.fill("#end_date", "2026-06-30")
    page.fill("#filing-reason", "转诊到北京")
    page.click("#register-filing")
    assert page.locator("#done").inner_text() == "备案已登记。"
    row = page.locator("#filings tbody tr").first
    assert "referral" in row.inner_text() and "有效" in row.inner_text()
    serial = row.get_attribute("id").removeprefix("filing-")
    page.fill(f"#reason-{serial}", "改为住院后再备案")
    page.click(f"#cancel-{serial}")
    assert page.locator("#done").inner_text() == "备案已撤销。"
    status = page.locator(f"#filing-{serial} .filing-status").inner_text()
    assert "已撤销" in status and "改为住院后再备案" in status
    assert page.locator(f"#cancel-{serial}").count() == 0
