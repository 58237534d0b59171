"""/docs in a real browser: yibao served by uvicorn on a free port (the demo dataset, the
real clock), Chromium driven by Playwright. The page renders the operation list from
assets yibao serves itself (no request leaves the host); authorised as the sandbox
channel (its id and secret typed in Authorize) "Try it out" activates 王芳's certificate
(a write: the page adds the Idempotency-Key) and reads its account (200), the page
signing each request in the browser and never sending the secret; with an operator's
token an /admin/v1 read answers 200.

Runs on each database of the suite. Skipped only when /usr/bin/chromium (or Playwright)
is missing and YIBAO_REQUIRE_BROWSER is not set (tests/test_cashier_browser.py)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from apps import WANG
from browser import STEP_MS, skip_without_browser
from servers import Served
from yibao.api.app import create_app
from yibao.api.channel_docs import SANDBOX_ID, SANDBOX_SECRET
from yibao.bench.server import free_port
from yibao.services.context import china_now
from yibao.store.db import Database

skip_without_browser()

PIN = "135790"
OPERATOR_TOKEN = "demo-auditor"


@pytest.fixture
def served(db: Database) -> Iterator[str]:
    with Served(create_app(db), "127.0.0.1", free_port()) as server:
        yield server.url


def test_docs_renders_and_signs_channel_and_operator_requests(served, db, browser):
    context = browser.new_context()
    try:
        _drive(context.new_page(), served)
    finally:
        context.close()


def _drive(page, base: str) -> None:
    page.set_default_timeout(STEP_MS)
    sent: list[tuple[str, dict[str, str]]] = []
    page.on("request", lambda request: sent.append((request.url, request.headers)))
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock")
    operations = sum(len(methods) for methods in
                     json.loads(page.evaluate("fetch('/openapi.json').then(r => r.text())"))
                     ["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert {urlsplit(url).netloc for url, _ in sent} == {urlsplit(base).netloc}

    _authorise(page, {"ChannelId": SANDBOX_ID, "ChannelSignature": SANDBOX_SECRET,
                      "OperatorToken": OPERATOR_TOKEN})
    attested = china_now().replace(microsecond=0).isoformat()
    activation = dict(WANG, pin=PIN, real_person={
        "method": "face_liveness", "evidence_ref": uuid.uuid4().hex, "attested_at": attested})
    status, answer = _try(page, "post", "/channel/v1/certificates", body=activation)
    assert status == 201, answer
    cert_id = json.loads(answer)["cert_id"]
    status, answer = _try(page, "post", "/channel/v1/certificates/{cert_id}/account",
                          body={"pin": PIN}, params={"cert_id": cert_id})
    assert status == 200, answer
    assert "balance" in json.loads(answer)
    status, answer = _try(page, "get", "/admin/v1/audit")
    assert status == 200, answer
    assert isinstance(json.loads(answer), list)

    channel = [headers for url, headers in sent if "/channel/v1/" in url]
    assert len(channel) == 2
    for headers in channel:  # signed in the page: the secret itself never sent
        assert headers["x-yb-channel"] == SANDBOX_ID
        assert re.fullmatch(r"[0-9a-f]{64}", headers["x-yb-signature"])
        assert SANDBOX_SECRET not in json.dumps(headers)
    write, read = channel
    assert re.fullmatch(r"[0-9a-f]{32}", write["idempotency-key"])
    assert "idempotency-key" not in read  # a view takes no key


def _authorise(page, values: dict[str, str]) -> None:
    """Type each scheme's value in the Authorize dialog and apply it."""
    page.click("button.btn.authorize")
    for name, value in values.items():
        container = page.locator(".auth-container").filter(
            has=page.locator("h4 code", has_text=re.compile(f"^{name}$")))
        container.locator("input").fill(value)
        container.locator("button.authorize").click()
        container.locator("button", has_text="Logout").wait_for()
    page.locator("button.btn-done").first.click()


def _try(page, method: str, path: str, *, body: dict | None = None,
         params: dict[str, str] | None = None) -> tuple[int, str]:
    """"Try it out" on the operation: its parameters and body typed, Execute; the status
    and body the page shows."""
    block = page.locator(f".opblock.opblock-{method}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))
    block.locator(".opblock-summary").first.click()
    block.locator(".try-out__btn").click()
    for name, value in (params or {}).items():
        block.locator(f'tr[data-param-name="{name}"] input').fill(value)
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body, ensure_ascii=False))
    block.locator("button.execute").click()
    live = block.locator(".live-responses-table .response")
    live.wait_for()
    status = int(live.locator(".response-col_status").inner_text().strip())
    return status, live.locator(".response-col_description pre").first.inner_text()
