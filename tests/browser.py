"""Chromium for the browser tests: Debian's package driven by Playwright through
``executable_path`` (Playwright's own download needs the internet). A test module calls
``skip_without_browser()`` at import: skipped only when the browser is missing and
YIBAO_REQUIRE_BROWSER is not set (CI installs Chromium and sets it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
REQUIRED = bool(os.environ.get("YIBAO_REQUIRE_BROWSER"))
STEP_MS = 15_000  # a page or a navigation, at most


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return ""


def skip_without_browser() -> None:
    missing = browser_missing()
    if missing and not REQUIRED:
        pytest.skip(f"browser test skipped: {missing}", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (Playwright's sync API allows one at a time, and it
    runs an event loop in the test thread while it is open: stopped after each module,
    so the tests of other modules may start their own, e.g. with asyncio.run)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()
