"""The console's page of the insured place's funds spent elsewhere (异地就医基金使用分析) in a
real browser (Chromium), on both databases: with settlements planted for several
treatment regions and months, the region and month chosen in the form show the month's
figures per region, institution and disease, the 12-month chart as inline SVG, the
outliers highlighted with why, the download links; no request leaves the site."""

from __future__ import annotations

import pytest

from away_plant import INSURED, plant_month
from browser import skip_without_browser
from console_site import (
    OPERATOR_OF,
    assert_role_sees_only_what_it_may,
    page,  # noqa: F401 (fixtures)
    sign_in,
    site,  # noqa: F401
)

skip_without_browser()


def _cells(page, table: str, key: str) -> list[str]:  # noqa: F811
    row = page.locator(f"#{table} tbody tr", has=page.locator(f"th:text-is('{key}')"))
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_the_page_shows_the_chosen_month_and_its_outliers(page, site):  # noqa: F811
    plant_month(site.db)
    problems: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(site.url) else problems.append(r.url))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    sign_in(page, site, "clerk")
    page.locator("nav a", has_text="异地就医基金使用分析").click()
    page.wait_for_url("**/console/away-analysis")
    assert page.locator("h1").inner_text() == "异地就医基金使用分析"
    assert page.locator("#region").input_value() == INSURED  # the one insured place known
    page.fill("#month", "2026-04")
    page.locator("#away-choice button[type=submit]").click()
    page.wait_for_url("**/console/away-analysis?region=130102&month=2026-04")
    # the month: 85 visits, 140,888.00 yuan, 7 persons
    assert _cells(page, "away-total", "2026-04")[:5] == [
        "85", "85", "7", "145,138.00", "140,888.00"]
    # per region: Shanghai's April jumped to 4 times its usual month, highlighted, says why
    shanghai = page.locator("#away-regions tbody tr.outlier")
    assert shanghai.count() == 1 and shanghai.locator("th").inner_text() == "310000"
    assert "为其前 6 个月中位数 2000.00 元的 4.00 倍" in shanghai.inner_text()
    assert _cells(page, "away-regions", "110000")[4] == "132,888.00"
    # per institution: H1100000004 pays 3 times its three peers' median per visit
    flagged = page.locator("#away-institutions tbody tr.outlier th").all_inner_texts()
    assert sorted(flagged) == ["H1100000004", "H3100000001"]
    h4 = _cells(page, "away-institutions", "H1100000004")
    assert h4[2] == "三级" and h4[8] == "3,300.00"
    assert "同一就医地同级别 3 家机构中位数 1100.00 元的 3.00 倍" in h4[-1]
    red = page.locator("#away-institutions tr.outlier").first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    plain = page.locator("#away-institutions tbody tr:not(.outlier)").first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert red != plain
    assert page.locator("#away-outliers li").count() == 3
    # per disease, the trend's chart and table
    assert _cells(page, "away-diseases", "I10.x00")[5] == "66,000.00"
    chart = page.locator("#chart-away-trend svg").first.bounding_box()
    assert chart and chart["width"] > 250 and chart["height"] > 100
    assert page.locator("#away-trend tbody tr").count() == 12
    assert _cells(page, "away-trend", "2026-03")[4] == "12,000.00"
    assert page.locator("#download-csv").get_attribute("href").endswith(
        "format=csv&lang=zh")
    with page.expect_download() as made:
        page.click("#download-html")
    saved = made.value.path().read_text(encoding="utf-8")
    assert "<svg" in saved and "H1100000004" in saved and "<script" not in saved
    assert page.locator("svg script").count() == 0
    assert problems == []


def test_a_month_without_care_away_is_an_empty_page_and_a_bad_month_says_why(
        page, site):  # noqa: F811
    sign_in(page, site, "auditor")
    page.goto(site.console("/away-analysis?region=130102&month=2026-05"))
    assert page.locator("#away-regions tbody").inner_text().strip() == "本月没有异地就医。"
    assert page.locator("#away-no-outliers").is_visible()
    page.goto(site.console("/away-analysis?region=13010&month=2026-05"))
    assert "E-SUP-020" in page.locator("#error").inner_text()


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_every_role_may_look_and_none_is_offered_a_change(page, site, role):  # noqa: F811
    plant_month(site.db)
    assert_role_sees_only_what_it_may(page, site, role, "/away-analysis", set())
    assert page.locator("nav a[aria-current=page]").inner_text() == "异地就医基金使用分析"
    assert page.locator("#away-institutions tbody tr.outlier").count() == 2
