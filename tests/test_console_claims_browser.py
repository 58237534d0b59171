"""The claims and payments pages in a real browser (Chromium), on both databases: a claim
taken from the window's application to its payment through the pages only, and each
role offered only the changes it may make on the queue, a claim in each state where
changes are offered, and the payments page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from browser import skip_without_browser
from conftest import APPROVER, FINANCE
from console_site import (
    OPERATOR_OF,
    Site,
    offered,
    page,  # noqa: F401 (fixtures)
    sign_in,
    site,  # noqa: F401
)
from flows import WANG_FANG
from test_console_claims import reviewed, uploaded_bill, window_claim
from test_reimbursement import PAYEE, psn
from yibao.client import HisClient, httpx_transport
from yibao.domain.roles import PERMISSIONS
from yibao.store.demo import demo_token

skip_without_browser()


@pytest.fixture
def rest(site: Site) -> Iterator[httpx.Client]:  # noqa: F811
    """The served site's /admin/v1 and national interface, over HTTP."""
    with httpx.Client(base_url=site.url, timeout=10) as client:
        yield client


@pytest.fixture
def his(rest: httpx.Client) -> HisClient:
    client = HisClient(httpx_transport(rest), "H11010500001", demo_token("H11010500001"))
    client.sign_in()
    return client


def text(on: Any, selector: str) -> str:
    return str(on.locator(selector).inner_text()).strip()


def test_a_claim_goes_from_the_window_to_the_bank_through_the_pages(
        page, site, his, tmp_path):  # noqa: F811
    psn_no = uploaded_bill(his)  # the hospital's 2902 and 2901: not a console page

    # the clerk applies at the window
    sign_in(page, site, "clerk")
    page.click("nav >> text=报销申请")
    page.fill("#psn_no", psn_no)
    page.fill("#fixmedins_code", "H11010500001")
    page.fill("#invono", "INV-1")
    page.fill("#bank_name", PAYEE["bank_name"])
    page.fill("#bank_account", PAYEE["bank_account"])
    page.fill("#account_name", PAYEE["account_name"])
    page.click("#apply-submit")
    page.wait_for_url("**/console/claims/*?done=applied")
    claim_path = page.url.removeprefix(site.console()).split("?")[0]
    claim_id = claim_path.rsplit("/", 1)[1]
    assert text(page, "#done") == "申请已提交。"
    assert text(page, "#claim-status") == "已提交"
    assert text(page, "#person") == f"王芳 · {WANG_FANG[:6]}********{WANG_FANG[-4:]} · {psn_no}"

    # the reviewer finds it in the queue and starts the review
    sign_in(page, site, "reviewer", then="/claims")
    page.click(f"text={claim_id}")
    page.click("#review")
    page.wait_for_url(f"**{claim_path}?done=review-started")
    assert text(page, "#claim-status") == "审核中"

    # the approver approves
    sign_in(page, site, "approver", then=claim_path)
    page.fill("#note", "发票与清单已核对")
    page.click("#approve")
    page.wait_for_url(f"**{claim_path}?done=approved")
    assert text(page, "#claim-status") == "已核准"
    assert text(page, "#approved-amount") == "140.00"
    assert text(page, "#fund-total") == "140.00"

    # finance downloads the bank file and records the bank's answer
    sign_in(page, site, "finance")
    page.click("nav >> text=支付")
    assert text(page, "#count-pending") == "1"
    with page.expect_download() as downloading:
        page.click("#export")
    download = downloading.value
    assert download.suggested_filename.startswith("bank-file-BAT")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    head, row = saved.read_text(encoding="utf-8").splitlines()
    assert head.startswith("batch,order_id,claim_id") and row.endswith(
        f",{claim_id},{PAYEE['bank_name']},{PAYEE['bank_account']},140.00")
    order_id = row.split(",")[1]
    page.reload()
    assert text(page, f"#order-{order_id} .order-status") == "已导出"
    page.click(f"#paid-{order_id}")
    page.wait_for_url("**/console/payments?done=payment-paid")
    assert text(page, f"#order-{order_id} .order-status") == "已支付"

    # the claim shows every step and the status paid
    page.click(f"text={claim_id}")
    page.wait_for_url(f"**{claim_path}")
    assert text(page, "#claim-status") == "已支付"
    steps = [[cell.strip() for cell in row.split("\t")][:3]
             for row in page.locator("#steps tbody tr").all_inner_texts()]
    assert steps == [["可申请", "H11010500001", ""], ["已提交", "clerk", "窗口经办"],
                     ["审核中", "reviewer", "审核"], ["已核准", "approver", "审批"],
                     ["已支付", "finance", "财务"]]
    assert "发票与清单已核对" in text(page, "#steps")


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_claims_pages_offer_each_role_only_what_it_may(page, site, rest, his, role):  # noqa: F811
    psn_no = psn(his)
    submitted = window_claim(rest, psn_no, "INV-S")
    under_review = window_claim(rest, psn_no, "INV-U")
    reviewed(rest, under_review)
    pages = {"/claims": {"claims.apply"},
             f"/claims/{submitted}": {"claims.review", "claims.reject"},
             f"/claims/{under_review}": {"claims.approve", "claims.reject"}}
    sign_in(page, site, role)
    for path, expected in pages.items():
        page.goto(site.console(path))
        allowed = {permission for permission in expected if role in PERMISSIONS[permission]}
        assert offered(page) == allowed, (role, path)


@pytest.mark.parametrize("role", sorted(OPERATOR_OF))
def test_the_payments_page_offers_each_role_only_what_it_may(page, site, rest, his, role):  # noqa: F811
    psn_no = psn(his)
    for invono in ("INV-A", "INV-B"):
        approve(rest, window_claim(rest, psn_no, invono))
    exported = rest.post("/admin/v1/payments/export", headers=FINANCE).text.splitlines()
    failing = exported[2].split(",")[1]
    assert rest.post(f"/admin/v1/payments/{failing}/result", headers=FINANCE,
                     json={"paid": False, "error": "account closed"}).status_code == 200
    approve(rest, window_claim(rest, psn_no, "INV-C"))  # pending
    expected = {"payments.export", "payments.result", "payments.retry"}
    sign_in(page, site, role, then="/payments")
    assert offered(page) == {p for p in expected if role in PERMISSIONS[p]}, role


def approve(rest: httpx.Client, claim_id: str) -> None:
    reviewed(rest, claim_id)
    ok_reply = rest.post(f"/admin/v1/claims/{claim_id}/decision", headers=APPROVER,
                         json={"approve": True})
    assert ok_reply.status_code == 200, ok_reply.text

