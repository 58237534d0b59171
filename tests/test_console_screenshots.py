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

skip_without_browser()

DOCS = ROOT / "docs" / "console"
# (role, path, file): the pages the README shows
SHOTS = [
    ("administrator", "", "home"),
    ("administrator", "/outbox", "outbox"),
]


def test_the_main_pages_render_and_are_pictured(page, site, tmp_path):  # noqa: F811
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
            page.goto(site.console(f"{path}?lang={lang}"))
            assert page.locator("h1").count() == 1, (path, lang)
            assert page.locator("#error").count() == 0, (path, lang)
        shot = Path(target) / f"{name}.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000, name
