"""Supervision in a real browser (Chromium), on both databases: a reviewer takes a clue
into a case, assigns it, adds evidence with a file, asks another region to verify and
records the answer; an approver concludes with a recovery; finance runs the month and
the institution's statement shows the recovery deducted. Each role is offered only the
changes it may make on the clue list, a clue and a case."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from browser import STEP_MS, browser, skip_without_browser  # noqa: F401 (fixture)
from console_site import (
    OPERATOR_OF,
    assert_role_sees_only_what_it_may,
    offered,
    page,  # noqa: F401 (fixtures)
    sign_in,
    site,  # noqa: F401
)
from flows import WANG_FANG, person, settle_once
from test_supervision_cases import H1, owed, plant_clues
from yibao.domain.roles import PERMISSIONS
from yibao.services import ledger
from yibao.store.schema import clearing_institution

skip_without_browser()


def _fresh(browser):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    opened = context.new_page()
    opened.set_default_timeout(STEP_MS)
    return context, opened


def test_a_clue_taken_to_a_case_verified_and_concluded_with_recovery(
        browser, page, site, his):  # noqa: F811
    may = owed(settle_once(his, WANG_FANG, "3000.00"))
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    [clue_id] = plant_clues(site.db, site.clock, (H1, psn_no, 60_000))

    sign_in(page, site, "reviewer", then="/supervision")
    row = page.locator(f"#clue-{clue_id}")
    assert "600.00" in row.inner_text() and "待处理" in row.inner_text()
    page.click(f"#clue-{clue_id} a")
    assert page.locator("#evidence thead").inner_text().split() == ["med_list_codg", "cnt"]
    assert page.locator("#evidence tbody").inner_text().split() == ["XA01AAA0001", "2"]
    page.click("#open-case-button")
    page.wait_for_url("**/supervision/cases/*?done=case-opened")
    assert page.locator("#done").inner_text() == "已立案。"
    assert page.locator("#case-status").inner_text() == "已立案"
    case_url = page.url.split("?")[0]

    page.click("#assign-button")  # to the reviewer, as the form proposes
    page.locator("#case-status", has_text="调查中").wait_for()
    page.fill("#evidence-note", "病区登记：只给药一次")
    page.set_input_files("#evidence-file", files=[{
        "name": "register.txt", "mimeType": "text/plain", "buffer": b"bed 3: one dose"}])
    page.click("#evidence-button")
    page.locator("#done", has_text="证据已添加。").wait_for()
    assert page.locator("#timeline a", has_text="register.txt").count() == 1

    page.fill("#from-region", "110000")
    page.fill("#to-region", "130102")
    page.fill("#question", "当日是否在河北就医？")
    page.click("#ask-button")
    page.locator("#case-status", has_text="协查中").wait_for()
    assert page.locator("#conclude").count() == 0
    page.fill("#verifications input[name=answer]", "当日无就医记录")
    page.locator("#verifications button").click()
    page.locator("#case-status", has_text="调查中").wait_for()
    assert page.locator("#verifications tbody").inner_text().count("当日无就医记录") == 1

    context, approver = _fresh(browser)
    try:
        sign_in(approver, site, "approver", then=case_url.removeprefix(site.console()))
        approver.fill("#recovery", "300.00")
        approver.fill("#conclude-note", "重复收费")
        approver.click("#conclude-button")
        approver.locator("#case-status", has_text="已结案").wait_for()
        assert approver.locator("#conclusion-recovery").inner_text() == "300.00"
        assert approver.locator("#conclusion-outcomes").inner_text() == "追回"
        steps = approver.locator("#timeline tbody tr td:nth-child(4)").all_inner_texts()
        assert steps == ["立案", "分派", "添加证据", "发起协查", "协查答复", "结案"]
    finally:
        context.close()

    site.clock.now = datetime(2026, 6, 2, 9, 0)
    context, finance = _fresh(browser)
    try:
        sign_in(finance, site, "finance", then="/clearing?month=2026-05")
        finance.click("#run")
        finance.locator("#done").wait_for()
        cells = finance.locator(f"#institution-{H1} td").all_inner_texts()
        assert cells[-2:] == [_yuan(30_000), _yuan(may - 30_000)]  # recovered, due
    finally:
        context.close()
    with site.db.read() as conn:
        row = conn.execute(select(clearing_institution).where(
            clearing_institution.c.month == "2026-05",
            clearing_institution.c.fixmedins_code == H1)).mappings().one()
        assert (row["recovered"], row["due"]) == (30_000, may - 30_000)
        assert ledger.verify(conn) == []


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_supervision_pages_offer_each_role_only_what_it_may(page, site, role):  # noqa: F811
    first, second = plant_clues(site.db, site.clock, (H1, "", 100), (H1, "", 200))
    from test_supervision_cases import _call  # an investigating case, as a reviewer made it
    from yibao.services import supervision_cases as cases
    with site.db.write() as conn:
        case_id = cases.open_case(_call(conn, site.clock, "reviewer", "reviewer"), [second])
        cases.assign(_call(conn, site.clock, "reviewer", "reviewer"), case_id, "reviewer")
    assert_role_sees_only_what_it_may(page, site, role, "/supervision",
                                      {"supervision.triage"})
    for path, expected in ((f"/supervision/clues/{first}", {"supervision.triage"}),
                           (f"/supervision/cases/{case_id}",
                            {"supervision.triage", "supervision.conclude"})):
        page.goto(site.console(path))
        allowed = {p for p in expected if role in PERMISSIONS[p]}
        assert offered(page) == allowed, (role, path)
