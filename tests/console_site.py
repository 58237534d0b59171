"""The bureau console served for the browser tests: yibao by uvicorn in a thread over the
test's database (SQLite, and PostgreSQL when YIBAO_TEST_PG_URL is set), Chromium through
Playwright, and what the tests of every page share: signing in as a role's demo operator
(store/demo.py: the token is "demo-" + the name) and reading which changes a page offers.

A test module imports the fixtures it uses (``from console_site import site, page``; the
browser is conftest's) and calls ``skip_without_browser()``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from browser import STEP_MS
from conftest import FakeClock
from servers import Served
from yibao.api.app import create_app
from yibao.bench.server import free_port
from yibao.domain.roles import PERMISSIONS
from yibao.services import outbox
from yibao.store.db import Database

# the demo operator of each role
OPERATOR_OF = {"clerk": "clerk", "reviewer": "reviewer", "approver": "approver",
               "finance": "finance", "auditor": "auditor", "administrator": "admin"}


@dataclass
class Site:
    url: str
    db: Database
    clock: FakeClock
    app: FastAPI

    def console(self, path: str = "") -> str:
        return f"{self.url}/console{path}"


@pytest.fixture
def site(db: Database, clock: FakeClock) -> Iterator[Site]:
    made = create_app(db, clock=clock)
    made.state.clock = clock
    with Served(made, "127.0.0.1", free_port()) as served:
        yield Site(served.url, db, clock, made)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies), in Chinese, a laptop's screen."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    opened = context.new_page()
    opened.set_default_timeout(STEP_MS)
    yield opened
    context.close()


def sign_in(page: Any, site: Site, role: str, *, then: str = "") -> None:
    """Sign in as the demo operator of ``role`` and land on ``then`` (the home page)."""
    name = OPERATOR_OF[role]
    page.goto(site.console("/signin?next=" + site.console(then).removeprefix(site.url)))
    page.fill("#name", name)
    page.fill("#token", f"demo-{name}")
    page.click("#signin")
    page.wait_for_url(site.console(then))
    assert page.locator("#operator").inner_text() == name


def offered(page: Any) -> set[str]:
    """The permissions of the changes the page offers (each change's form names it)."""
    return {element.get_attribute("data-permission")
            for element in page.locator("[data-permission]").all()}


def assert_role_sees_only_what_it_may(page: Any, site: Site, role: str, path: str,
                                      expected: set[str]) -> None:
    """Signed in as ``role``, the page at ``path`` offers exactly the changes of
    ``expected`` that the role holds (``expected``: what the page offers an operator
    holding every role, given the test's data)."""
    sign_in(page, site, role, then=path)
    allowed = {permission for permission in expected if role in PERMISSIONS[permission]}
    assert offered(page) == allowed, (role, path)


def failed_message(db: Database, clock: FakeClock, key: str) -> None:
    """An outbox message that failed every attempt (the clock moves past each backoff)."""
    with db.write() as conn:
        outbox.enqueue(conn, key=key, kind="away-cost", psn_no="11000000000000000001",
                       payload={"setl_id": key}, now=clock())
    for _attempt in range(outbox.ATTEMPTS_MAX):
        clock.now += timedelta(days=1)
        outbox.deliver_due(db, url="http://127.0.0.1:9/", clock=clock,
                           post=lambda *_args, **_kwargs: 503)
    with db.read() as conn:
        assert outbox.message(conn, key)["status"] == "failed"
