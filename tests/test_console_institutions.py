"""The console's institutions pages over HTTP: the list with the flags, one institution's
flags switched and its gateway changed by an administrator (at once for this process's
gateway), a new AK/SK pair's secret and a new x-tif token shown once and never again,
and the refusals, in both languages."""

from __future__ import annotations

import re

from flows import ok, refused
from test_console import csrf_of, sign_in
from test_errors import unchanged
from test_gateway_aksk import (  # noqa: F401 (fixtures)
    FIXED_MS,
    HOSPITAL,
    aksk_headers,
    demo_headers,
    fixed_http,
    his_of,
    post,
    sign_in_message,
    unix,
    xtif_sign_in,
)
from yibao.services import audit
from yibao.services import institutions as institution_service
from yibao.store.demo import INSTITUTIONS, demo_token

PAGE = f"/console/institutions/{HOSPITAL}"


def listed(db, code: str = HOSPITAL):
    with db.read() as conn:
        return institution_service.listed(conn, code)


def switch(http, flag: str, *, on: bool, csrf: str = ""):
    data = {"csrf": csrf or csrf_of(http.get(PAGE).text), **({"enabled": "on"} if on else {})}
    return http.post(f"{PAGE}/flags/{flag}", data=data, follow_redirects=False)


def post_form(http, path: str, **fields: str):
    return http.post(f"{PAGE}/{path}", data={"csrf": csrf_of(http.get(PAGE).text), **fields},
                     follow_redirects=False)


def test_the_list_shows_every_institution_with_its_flags_and_no_credential(http):
    sign_in(http, "auditor")
    html = http.get("/console/institutions").text
    for code, name, *_rest in INSTITUTIONS:
        assert f'id="institution-{code}"' in html and name in html
        assert demo_token(code) not in html
    row = re.search(rf'<tr id="institution-{HOSPITAL}">(.*?)</tr>', html, re.S)
    assert row and "医院" in row.group(1) and "3 级" in row.group(1)
    assert '<td class="networked">是</td>' in row.group(1)
    english = http.get("/console/institutions?lang=en").text
    assert "networked (inter-provincial)" in english and "pharmacy" in english
    page = http.get(PAGE).text
    assert "face pilot" in page and demo_token(HOSPITAL) not in page  # English kept
    assert 'id="switch-networked"' not in page  # an auditor switches nothing


def test_an_administrator_switches_a_flag_off_and_on(db, http):
    sign_in(http, "admin")
    assert listed(db).networked and not listed(db).prepay
    answer = switch(http, "networked", on=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PAGE}?done=flag-switched"
    page = http.get(answer.headers["location"]).text
    assert "开关已更改" in page and '<td id="flag-networked">否</td>' in page
    assert not listed(db).networked
    assert switch(http, "prepay", on=True).status_code == 303
    assert listed(db).prepay and not listed(db).networked
    english = http.get(f"{PAGE}?lang=en").text
    assert '<td id="flag-prepay">yes</td>' in english and "Switch on" in english
    with db.read() as conn:
        logged = [(a["action"], a["detail"]) for a in audit.actions(conn, actor="admin")]
    assert [action for action, _detail in logged[:2]] == [
        "institution.prepay", "institution.networked"]


def test_an_administrator_switches_the_face_pilot_and_online_payment(db, http):
    sign_in(http, "admin")
    assert listed(db).face_pilot and not listed(db).online  # the demo's face pilot
    assert switch(http, "face_pilot", on=False).status_code == 303
    assert switch(http, "online", on=True).status_code == 303
    assert not listed(db).face_pilot and listed(db).online
    page = http.get(PAGE).text
    assert '<td id="flag-face_pilot">否</td>' in page and '<td id="flag-online">是</td>' in page


def test_a_scheme_change_reaches_this_processes_gateway_at_once(db, fixed_http, unix):  # noqa: F811
    assert ok(xtif_sign_in(fixed_http))  # the institution is cached now
    sign_in(fixed_http, "admin")
    with unchanged(db):
        neither = http_schemes(fixed_http)
    assert neither.status_code == 400 and "E-ADM-008" in neither.text
    answer = http_schemes(fixed_http, aksk="on")
    assert answer.status_code == 303
    page = fixed_http.get(answer.headers["location"]).text
    assert '<dd id="scheme-xtif">否</dd>' in page and '<dd id="scheme-aksk">是</dd>' in page
    refused(xtif_sign_in(fixed_http), "E-AUTH-008")
    assert ok(post(fixed_http, demo_headers(), sign_in_message(his_of(fixed_http, unix))))


def http_schemes(http, **ticked: str):
    form = http.get(PAGE).text
    return http.post(f"{PAGE}/schemes", data={"csrf": csrf_of(form), **ticked},
                     follow_redirects=False)


def test_a_new_pairs_secret_is_shown_once(db, fixed_http, unix):  # noqa: F811
    sign_in(fixed_http, "admin")
    answer = post_form(fixed_http, "keys", grace_minutes="10")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    access_key = re.search(r'<code id="access-key">([^<]+)</code>', answer.text)
    secret = re.search(r'<code id="secret">([^<]+)</code>', answer.text)
    assert access_key and secret and "仅显示这一次" in answer.text
    access_key_text, secret_text = access_key.group(1), secret.group(1)
    assert HOSPITAL in answer.text  # the replaced pair, working ten more minutes
    fresh = aksk_headers(access_key_text, secret_text, name="9001", ms=FIXED_MS + 5)
    assert ok(post(fixed_http, fresh, sign_in_message(his_of(fixed_http, unix))))
    page = fixed_http.get(PAGE).text
    assert access_key_text in page and secret_text not in page
    keys = re.search(r'<table id="keys">(.*?)</table>', page, re.S)
    assert keys and "当前使用" in keys.group(1) and "可用至" in keys.group(1)
    assert secret_text not in fixed_http.get(f"{PAGE}?lang=en").text
    with db.read() as conn:
        details = [a["detail"] for a in audit.actions(conn, actor="admin")]
    assert all(secret_text not in detail for detail in details)


def test_a_new_token_is_shown_once_and_the_old_one_stops(fixed_http):  # noqa: F811
    sign_in(fixed_http, "admin")
    answer = post_form(fixed_http, "token")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    token = re.search(r'<code id="secret">([^<]+)</code>', answer.text)
    assert token and "新的 x-tif 令牌" in answer.text
    refused(xtif_sign_in(fixed_http), "E-AUTH-005")
    assert ok(xtif_sign_in(fixed_http, token=token.group(1)))
    assert token.group(1) not in fixed_http.get(PAGE).text


def test_a_wrong_grace_or_flag_is_refused_naming_it(db, http):
    sign_in(http, "admin")
    with unchanged(db):
        for grace in ("ten", "-1", "10081"):
            answer = post_form(http, "keys", grace_minutes=grace)
            assert answer.status_code == 400 and "E-ENV-005" in answer.text
            assert "grace_minutes" in answer.text and 'id="secret"' not in answer.text
        unknown_flag = switch(http, "open_late", on=True)
    assert unknown_flag.status_code == 400
    assert "face_pilot, networked, online, prepay" in unknown_flag.text


def test_only_an_administrator_changes_an_institution(db, http):
    sign_in(http, "admin")
    with unchanged(db):
        forged = switch(http, "networked", on=False, csrf="forged")
    assert forged.status_code == 403 and "E-ADM-010" in forged.text
    sign_in(http, "clerk")
    page = http.get(PAGE).text
    assert 'data-permission="institutions' not in page
    with unchanged(db):
        answers = [switch(http, "networked", on=False), post_form(http, "keys"),
                   post_form(http, "token"), post_form(http, "schemes", xtif="on")]
    for answer in answers:
        assert answer.status_code == 403 and "E-ADM-003" in answer.text
        assert 'id="secret"' not in answer.text
    missing = http.get("/console/institutions/H99999999999?lang=en")
    assert missing.status_code == 404 and "E-ADM-001" in missing.text
