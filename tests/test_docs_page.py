"""/docs and /redoc work without internet: every script and stylesheet they reference is
served by yibao itself; and the OpenAPI declares how to authenticate (the operators'
bearer token on every /admin/v1 route, the channel's signature headers on every
/channel/v1 route), so "Try it out" can sign (tests/test_docs_browser.py drives it)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from yibao.api.docs import OPERATOR_SCHEME

REFERENCE = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', re.I)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_of_the_page_is_served_by_yibao(http, page):
    reply = http.get(page)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    assets = REFERENCE.findall(reply.text)
    assert any(url.endswith(".js") for url in assets), reply.text
    for url in assets:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} loads {url} from elsewhere"
        served = http.get(url)
        assert served.status_code == 200 and served.content, url
    assert "://" not in reply.text  # no address of another host, whatever the element
    if page == "/docs":
        assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css",
                "/docs/try-it.js"} <= set(assets)


def test_the_signing_script_sets_every_channel_header(http):
    script = http.get("/docs/try-it.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for header in ("x-yb-channel", "x-yb-timestamp", "x-yb-nonce", "x-yb-signature",
                   "Idempotency-Key"):
        assert f'"{header}"' in script.text, header
    assert "crypto.subtle" in script.text and "requestInterceptor" in script.text


def test_every_admin_route_declares_the_bearer_scheme_and_every_channel_route_the_signature(
        http):
    spec = http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes[OPERATOR_SCHEME] == {**schemes[OPERATOR_SCHEME], "type": "http",
                                        "scheme": "bearer"}
    admin = channel = 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            names = {p["name"].lower() for p in operation.get("parameters", [])}
            if path.startswith("/admin/v1/"):
                admin += 1
                assert operation["security"] == [{OPERATOR_SCHEME: []}], path
                assert "authorization" not in names, path  # the scheme, not a parameter
            elif path.startswith("/channel/v1/"):
                channel += 1
                [requirement] = operation["security"]
                assert {"ChannelId", "ChannelTimestamp", "ChannelNonce",
                        "ChannelSignature"} <= requirement.keys(), path
                assert ("IdempotencyKey" in requirement) is operation["x-yb-write"], path
    assert admin > 30 and channel > 20
