"""The dashboard in a real browser (Chromium), on both databases: every chart is drawn
as inline SVG with no script and no request elsewhere, each with its caption and its
numbers in a table a screen reader (and this test) can open; every role may look at it
and it offers no change."""

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
from yibao.store import refusals

skip_without_browser()
CHARTS = ("per-day", "per-level", "per-region", "per-med-type", "claims-waiting",
          "outbox-backlog", "refusals", "fever")


def test_every_chart_is_an_svg_with_its_numbers(page, site):  # noqa: F811
    failed_message(site.db, site.clock, "S-CHART")
    with site.db.write() as conn:
        refusals.count(conn, day=site.clock().date(), code="H11010500003", infno="2207",
                       refused="E-ENV-004")
    problems: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(site.url) else problems.append(r.url))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("console", lambda m: problems.append(m.text)
            if "Content Security Policy" in m.text else None)
    sign_in(page, site, "auditor", then="/dashboard")
    assert page.locator("h1").inner_text() == "数据看板"
    assert page.locator("figure.chart").count() == len(CHARTS)
    for name in CHARTS:
        figure = page.locator(f"#chart-{name}")
        box = figure.locator("svg").first.bounding_box()
        assert box and box["width"] > 250 and box["height"] > 100, name
        assert figure.locator("figcaption").inner_text()
        assert not figure.locator(f"#table-{name}").is_visible()
    backlog = page.locator("#chart-outbox-backlog")
    backlog.locator("summary").click()
    assert backlog.locator("#table-outbox-backlog tbody tr").nth(1).inner_text().split() == [
        "失败", "0", "0", "0", "1"]
    refused = page.locator("#chart-refusals")
    refused.locator("summary").click()
    assert "H11010500003" in refused.locator("svg").inner_html()  # the line's legend
    assert refused.locator("#table-refusals tbody tr").inner_text().split()[1:] == [
        "H11010500003", "E-ENV-004", "1"]
    assert page.locator("svg script").count() == 0
    assert problems == []


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_dashboard_offers_each_role_no_change(page, site, role):  # noqa: F811
    assert_role_sees_only_what_it_may(page, site, role, "/dashboard", set())
    assert page.locator("nav a[aria-current=page]").inner_text() == "数据看板"
