"""Screenshots of the console's main pages, taken in Chromium over a served demo with
some activity: each page must render (a heading, no error banner) in both languages.
With YIBAO_WRITE_DOCS=1 the Chinese ones are written to docs/console/ (README and
docs/console.md show them)."""

from __future__ import annotations

import os
from pathlib import Path

from browser import skip_without_browser
from conftest import ROOT
from console_site import failed_message, page, sign_in, site  # noqa: F401 (fixtures)
from flows import WANG_FANG, settle_once
from test_console_claims import reviewed, window_claim
from test_reimbursement import psn

skip_without_browser()

DOCS = ROOT / "docs" / "console"
# (role, path, file): the pages the README shows
SHOTS = [
    ("auditor", "/dashboard", "dashboard"),
    ("auditor", "/persons/{psn_no}", "person"),
    ("approver", "/claims/{claim_id}", "claim"),
    ("finance", "/payments", "payments"),
    ("finance", "/clearing", "clearing"),
    ("administrator", "/institutions/H11010500001", "institution"),
    ("administrator", "/outbox", "outbox"),
]


def test_the_main_pages_render_and_are_pictured(page, site, tmp_path, his, http):  # noqa: F811
    psn_no = psn(his)
    for amount in ("320.00", "2150.00", "86.50"):
        settle_once(his, WANG_FANG, amount)
    claim_id = window_claim(http, psn_no, "INV-PICTURED")
    reviewed(http, claim_id)
    failed_message(site.db, site.clock, "S-PICTURED")
    target = DOCS if os.environ.get("YIBAO_WRITE_DOCS") == "1" else tmp_path
    target.mkdir(exist_ok=True)
    signed_as = ""
    for role, path, name in SHOTS:
        if role != signed_as:
            page.context.clear_cookies()
            sign_in(page, site, role)
            signed_as = role
        for lang in ("en", "zh"):
            shown = path.format(psn_no=psn_no, claim_id=claim_id)
            page.goto(site.console(f"{shown}?lang={lang}"))
            assert page.locator("h1").count() == 1, (path, lang)
            assert page.locator("#error").count() == 0, (path, lang)
        shot = Path(target) / f"{name}.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000, name
