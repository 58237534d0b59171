"""The bureau console over HTTP (no browser): signing in and out, the session bound to
its credential, the forms' token, pages by role, both languages, and the local assets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from calls import command_call
from console_site import failed_message
from yibao.api.console import i18n
from yibao.services import audit, operators

SIGNIN = "/console/signin"


def sign_in(http, name: str, token: str | None = None, *, next_page: str = "/console"):
    token = f"demo-{name}" if token is None else token
    return http.post(SIGNIN, data={"name": name, "token": token, "next": next_page},
                     follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def test_a_page_without_a_session_sends_to_sign_in_and_back(http):
    answer = http.get("/console/outbox?status=failed", follow_redirects=False)
    assert answer.status_code == 303
    back = "%2Fconsole%2Foutbox%3Fstatus%3Dfailed"
    assert answer.headers["location"] == f"/console/signin?next={back}"
    signed = sign_in(http, "auditor", next_page="/console/outbox?status=failed")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/outbox?status=failed"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert http.get("/console/outbox").status_code == 200


@pytest.mark.parametrize("name,token", [("auditor", "demo-admin"), ("nobody", "demo-admin"),
                                        ("auditor", ""), ("auditor", "x" * 300)])
def test_a_wrong_name_or_token_is_refused_without_saying_which(http, name, token):
    answer = sign_in(http, name, token)
    assert answer.status_code == 401
    assert "E-ADM-002" in answer.text and "yibao_console" not in answer.headers.get(
        "set-cookie", "")
    assert 'id="name"' in answer.text  # the form again
    assert http.get("/console", follow_redirects=False).status_code == 303


def test_the_sign_in_page_never_sends_elsewhere_after(http):
    for elsewhere in ("https://evil.example/", "//evil.example/console", "/admin/v1/x"):
        assert sign_in(http, "clerk", next_page=elsewhere).headers["location"] == "/console"


def test_signing_out_ends_the_session_and_is_logged(http, db):
    sign_in(http, "clerk")
    home = http.get("/console")
    out = http.post("/console/signout", data={"csrf": csrf_of(home.text)},
                    follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith(SIGNIN)
    assert http.get("/console", follow_redirects=False).status_code == 303
    with db.read() as conn:
        logged = [a["action"] for a in audit.actions(conn, actor="clerk")]
    assert logged[:2] == ["console.signout", "console.signin"]


def test_a_rotated_token_ends_its_sessions_at_once(http, db, clock):
    sign_in(http, "auditor")
    assert http.get("/console").status_code == 200
    with db.write() as conn:
        operators.rotate(command_call(conn, clock), "auditor")
    assert http.get("/console", follow_redirects=False).status_code == 303


def test_a_session_lasts_a_working_day(http, clock):
    sign_in(http, "auditor")
    clock.now += timedelta(hours=7, minutes=59)
    assert http.get("/console").status_code == 200
    clock.now += timedelta(minutes=2)
    assert http.get("/console", follow_redirects=False).status_code == 303


def test_a_change_without_the_sessions_form_token_changes_nothing(http, db, clock):
    failed_message(db, clock, "S-FORGED")
    sign_in(http, "admin")
    forged = http.post("/console/outbox/S-FORGED/retry", data={"csrf": "not-it"})
    assert forged.status_code == 403 and "E-ADM-010" in forged.text
    page = http.get("/console/outbox/S-FORGED")
    assert 'id="message-status"' in page.text and "失败" in page.text
    done = http.post("/console/outbox/S-FORGED/retry", data={"csrf": csrf_of(page.text)},
                     follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/outbox/S-FORGED?done=retried"
    assert "待发送" in http.get(done.headers["location"]).text


def test_a_change_the_roles_do_not_allow_is_refused_with_the_role_needed(http, db, clock):
    failed_message(db, clock, "S-AUDITED")
    sign_in(http, "auditor")
    page = http.get("/console/outbox/S-AUDITED")
    assert 'id="retry"' not in page.text  # not offered
    tried = http.post("/console/outbox/S-AUDITED/retry", data={"csrf": csrf_of(page.text)})
    assert tried.status_code == 403
    assert "E-ADM-003" in tried.text and "administrator" in tried.text


def test_the_language_is_chosen_kept_and_switched(http):
    sign_in(http, "auditor")
    assert "<h1>您好，auditor</h1>" in http.get("/console").text
    english = http.get("/console?lang=en")
    assert "<h1>Welcome, auditor</h1>" in english.text
    assert 'lang="en"' in english.text
    assert "Welcome" in http.get("/console").text  # kept in a cookie
    http.cookies.delete(i18n.COOKIE)
    assert "Welcome" in http.get("/console", headers={"accept-language": "en-GB,en"}).text
    assert "您好" in http.get("/console", headers={"accept-language": "fr, zh-CN"}).text


def test_every_asset_is_served_by_the_console_itself(http):
    sign_in(http, "auditor")
    html = http.get("/console/outbox").text
    assets = re.findall(r'(?:src|href)="([^"#]+\.(?:css|js))"', html)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {"console.css", "htmx-2.0.11.min.js"}
    for asset in assets:
        assert asset.startswith("/console/static/"), asset
        assert http.get(asset).status_code == 200
    headers = http.get("/console").headers
    assert "default-src 'self'" in headers["content-security-policy"]


def test_the_catalogues_translate_every_literal_text_of_the_console():
    """Every _("...") of a template or page module has its Chinese; every keyed id
    (status:…) its English too (the pages tests render check the ids built at run
    time: YIBAO_CONSOLE_STRICT_I18N)."""
    from pathlib import Path

    root = Path(i18n.__file__).parent
    sources = [*root.glob("templates/*.html"), *root.glob("*.py")]
    literal = re.compile(r'_\(\s*"((?:[^"\\]|\\.)+)"\s*[,)]')
    ids = {m for path in sources for m in literal.findall(path.read_text(encoding="utf-8"))}
    assert len(ids) > 20
    for lang in ("zh", "en"):
        text = i18n.gettext_of(lang, strict=True)
        for message in sorted(ids):
            if lang == "zh" or i18n.KEYED.match(message):
                text(message.replace('\\"', '"'))
