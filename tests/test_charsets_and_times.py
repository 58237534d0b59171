"""Bodies in the character sets Chinese-Windows clients send (GBK, GB2312, GB18030,
declared or not) and times as serialisers write them (.NET, Java, JavaScript, Python):
accepted, converted to China Standard Time, answered in UTF-8 and the standard's own
formats; what is neither text nor a time is refused naming why."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows import WANG_FANG, ok, person, refused
from test_errors import unchanged
from yibao.api.envelope import BODY_BYTES_MAX
from yibao.api.fields import Fields
from yibao.api.hospital import ROUTE
from yibao.client import HisClient
from yibao.domain.errors import Refused
from yibao.domain.text import china_time

CST = timezone(timedelta(hours=8))


def post(http, his: HisClient, body: bytes, content_type: str | None) -> dict[str, Any]:
    headers = his.headers()
    if content_type is None:
        del headers["content-type"]
    else:
        headers["content-type"] = content_type
    reply = http.post(ROUTE, content=body, headers=headers)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    reply.content.decode("utf-8")  # the answer is UTF-8, whatever the request's charset
    answer: dict[str, Any] = reply.json()
    return answer


def person_message(his: HisClient, name: str = "王芳") -> dict[str, Any]:
    return his.envelope("1101", {"data": {
        "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG, "card_sn": "", "begntime": "",
        "psn_cert_type": "01", "certno": WANG_FANG, "psn_name": name}})


# ---------------------------------------------------------------- character sets


@pytest.mark.parametrize(("content_type", "codec"), [
    ("application/json; charset=GBK", "gbk"),
    ("application/json;charset=gbk", "gbk"),
    ('application/json; charset="GB2312"', "gb2312"),
    ("application/json; charset=GB18030", "gb18030"),
    ("text/plain; charset=gb18030", "gb18030"),
    ("application/json", "gb18030"),  # no charset, not UTF-8: read as GB18030
    (None, "gbk"),
])
def test_a_body_in_a_chinese_charset_is_read(db, http, his, content_type, codec):
    """The name 王芳 must reach the check against the record intact (else E-PSN-005),
    and comes back in UTF-8."""
    body = json.dumps(person_message(his), ensure_ascii=False).encode(codec)
    assert body != json.dumps(person_message(his), ensure_ascii=False).encode("utf-8")
    answer = post(http, his, body, content_type)
    assert ok(answer)["baseinfo"]["psn_name"] == "王芳"


def test_a_character_outside_gbk_arrives_in_gb18030(db, http, his):
    """GB18030's four-byte sequences (here 𠀀, outside the BMP) decode too: the name is
    then not the person's, and the refusal says so instead of calling it bad JSON."""
    body = json.dumps(person_message(his, "王芳𠀀"), ensure_ascii=False).encode("gb18030")
    refused(post(http, his, body, "application/json; charset=GB18030"), "E-PSN-005")


def test_a_utf8_body_with_a_byte_order_mark_is_read(db, http, his):
    body = json.dumps(person_message(his), ensure_ascii=False).encode("utf-8-sig")
    ok(post(http, his, body, "application/json; charset=utf-8"))


def test_a_body_not_in_its_declared_charset_is_refused_naming_the_byte(db, http, his):
    body = json.dumps(person_message(his), ensure_ascii=False).encode("gbk")
    position = next(i for i, byte in enumerate(body) if byte > 0x7f)  # 收费员's 收
    assert body[position:position + 2] == "收".encode("gbk") == b"\xca\xd5"
    with unchanged(db):
        answer = post(http, his, body, "application/json; charset=utf-8")
    assert refused(answer, "E-ENV-001") == (
        f"E-ENV-001 body is not valid JSON: not utf-8 as declared: byte 0xca at {position}")


def test_a_body_in_neither_charset_is_refused_naming_both(db, http, his):
    body = b'{"infno": "1101", "msgid": "\xff\xfe"}'
    with unchanged(db):
        answer = post(http, his, body, None)
    assert refused(answer, "E-ENV-001") == (
        "E-ENV-001 body is not valid JSON: neither UTF-8 (byte 0xff at 28) nor GB18030 "
        "(byte 0xff at 28)")


@pytest.mark.parametrize("charset", ["big5", "latin-1", "utf-16"])
def test_another_declared_charset_is_refused_naming_it(db, http, his, charset):
    body = json.dumps(person_message(his)).encode("ascii")
    answer = post(http, his, body, f"application/json; charset={charset}")
    assert refused(answer, "E-ENV-001").endswith(
        f"charset {charset} is not accepted (UTF-8, GBK, GB2312 or GB18030)")


def test_a_retry_in_another_charset_is_the_same_message(db, http, his):
    """The msgid's stored answer is keyed on the decoded input, not on the bytes: the
    same registration resent in GBK is answered from the store, changing nothing."""
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    message = his.envelope("2201", {"data": {
        "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG, "ipt_otp_no": "OP1",
        "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
        "caty": "A03"}})
    text = json.dumps(message, ensure_ascii=False)
    first = post(http, his, text.encode("utf-8"), "application/json; charset=utf-8")
    ok(first)
    with unchanged(db):
        again = post(http, his, text.encode("gbk"), "application/json; charset=GBK")
    assert again == first
    message["input"]["data"]["dept_name"] = "外科"
    other = json.dumps(message, ensure_ascii=False).encode("gbk")
    refused(post(http, his, other, "application/json; charset=GBK"), "E-MSG-002")


def test_the_size_limit_counts_the_bytes_sent(db, http, his):
    """Two bytes a character in GBK: a body of BODY_BYTES_MAX / 2 + 1 characters is
    over the limit although its text is not."""
    name = "王" * (BODY_BYTES_MAX // 2 + 1)
    body = json.dumps(person_message(his, name), ensure_ascii=False).encode("gbk")
    assert len(body) > BODY_BYTES_MAX > len(body.decode("gbk"))
    refused(post(http, his, body, "application/json; charset=GBK"), "E-ENV-006")


def test_malformed_json_is_refused_with_its_position(db, http, his):
    body = b'{"infno": "1101",\n "msgid": }'
    answer = post(http, his, body, "application/json")
    assert refused(answer, "E-ENV-001") == (
        "E-ENV-001 body is not valid JSON: Expecting value at line 2 column 11 (char 28)")


# ---------------------------------------------------------------- times: the parser


def whole_minute_offsets():
    return st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
        lambda minutes: timezone(timedelta(minutes=minutes)))


MOMENTS = st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2099, 12, 31))
TIMESPECS = st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"])


@given(MOMENTS, whole_minute_offsets(), st.sampled_from(["T", " "]), TIMESPECS)
def test_any_aware_isoformat_parses_to_the_same_instant_in_china_time(
        moment, zone, sep, timespec):
    aware = moment.replace(tzinfo=zone)
    expected = aware.astimezone(CST).replace(tzinfo=None, microsecond=0)
    assert china_time(aware.isoformat(sep=sep, timespec=timespec)) == expected


@given(MOMENTS, st.sampled_from(["T", " "]), TIMESPECS)
def test_a_utc_time_written_with_z_is_converted(moment, sep, timespec):
    text = moment.isoformat(sep=sep, timespec=timespec) + "Z"
    expected = moment.replace(tzinfo=UTC).astimezone(CST).replace(
        tzinfo=None, microsecond=0)
    assert china_time(text) == expected


@given(MOMENTS, st.sampled_from(["T", " "]), TIMESPECS)
def test_a_time_without_offset_is_china_time_already(moment, sep, timespec):
    assert china_time(moment.isoformat(sep=sep, timespec=timespec)) == moment.replace(
        microsecond=0)


@given(st.text(max_size=40))
def test_any_text_is_a_time_or_refused_never_an_error(text):
    moment = china_time(text)
    assert moment is None or moment.microsecond == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-03T05:37:21.315168+00:00", datetime(2026, 12, 3, 13, 37, 21)),  # .NET
    ("2026-12-03T05:37:21.3151680Z", datetime(2026, 12, 3, 13, 37, 21)),  # .NET, UTC "o"
    ("2026-12-03T05:37:21.315Z", datetime(2026, 12, 3, 13, 37, 21)),  # JavaScript
    ("2026-12-03T13:37:21.315+0800", datetime(2026, 12, 3, 13, 37, 21)),  # Java
    ("2026-12-03 13:37:21.0", datetime(2026, 12, 3, 13, 37, 21)),  # java.sql.Timestamp
    ("2026-12-03T13:37:21", datetime(2026, 12, 3, 13, 37, 21)),
    ("2026-12-03T13:37", datetime(2026, 12, 3, 13, 37)),
    ("2026-12-03T00:30:00-05:00", datetime(2026, 12, 3, 13, 30)),
    ("2026-12-03T20:00:00+00", datetime(2026, 12, 4, 4, 0)),  # past midnight in China
    ("2026-12-03 13:37:21", datetime(2026, 12, 3, 13, 37, 21)),  # the standard's own
    ("20261203133721", datetime(2026, 12, 3, 13, 37, 21)),
    ("2026-12-03", datetime(2026, 12, 3)),
    ("2026-5-1 8:00:00", datetime(2026, 5, 1, 8)),
])
def test_what_serialisers_write_is_read(text, expected):
    assert china_time(text) == expected


@pytest.mark.parametrize("text", [
    "2026-02-30 10:00:00", "2026-12-03 24:00:00", "2026-12-03 13:60:00", "yesterday",
    "2026-12-03T05:37:21+24:00", "2026-12-03T05:37:21.1234567890", "2026/12/03",
    "2026-12-03 05:37:21 +08:00", "2026-12-03+08:00", "2026-12-03T", "１２０２６-12-03",
    "0001-01-01T00:00:00+08:01", "9999-12-31T23:59:59-01:00", "2026120313372", "",
])
def test_what_is_not_a_time_is_refused(text):
    assert china_time(text) is None


def test_a_field_that_is_not_a_time_is_refused_naming_it_and_the_forms():
    with pytest.raises(Refused) as refusal:
        Fields({"begntime": "2026-12-03T25:00:00"}, where="input.data").moment("begntime")
    assert str(refusal.value) == (
        "E-ENV-005 input field has a wrong type or format: input.data.begntime is not a "
        "time (yyyy-MM-dd HH:mm:ss or ISO-8601): '2026-12-03T25:00:00'")


@pytest.mark.parametrize(("text", "day"), [
    ("2026-12-03", date(2026, 12, 3)),
    ("2026-12-03T00:00:00", date(2026, 12, 3)),
    ("2026-12-03 00:00:00.0", date(2026, 12, 3)),
    ("2026-12-03T00:00:00+08:00", date(2026, 12, 3)),
    ("2026-12-02T16:00:00.000Z", date(2026, 12, 3)),  # China's midnight, from JavaScript
])
def test_a_date_field_takes_a_midnight_time(text, day):
    assert Fields({"enddate": text}, where="input").day("enddate") == day


# ---------------------------------------------------------------- times: end to end


@pytest.mark.parametrize("begntime", [
    "2026-05-11T01:00:00.315168+00:00", "2026-05-11T01:00:00Z", "2026-05-11 09:00:00.0",
    "2026-05-11T09:00:00", "2026-05-11T09:00:00.123+08:00",
])
def test_a_registration_time_is_kept_and_answered_as_the_standard_writes_it(
        db, his, begntime):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = ok(his.call("2201", {"data": {
        "psn_no": psn_no, "insutype": "310", "begntime": begntime, "mdtrt_cert_type": "02",
        "mdtrt_cert_no": WANG_FANG, "ipt_otp_no": "OP1", "atddr_no": "D001",
        "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科", "caty": "A03"}}))[
        "data"]["mdtrt_id"]
    rows = ok(his.call("5201", {"data": {
        "psn_no": psn_no, "begntime": "2026-05-10T16:00:00Z", "endtime": "2026-05-12",
        "med_type": "11"}}))["mdtrtinfo"]
    assert [(r["mdtrt_id"], r["begntime"]) for r in rows] == [
        (mdtrt_id, "2026-05-11 09:00:00")]


def test_a_registration_time_that_is_not_a_time_is_refused(db, his):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    with unchanged(db):
        answer = his.call("2201", {"data": {
            "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11T09:00:00+25:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": WANG_FANG, "ipt_otp_no": "OP2",
            "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01",
            "dept_name": "内科", "caty": "A03"}})
    assert "input.data.begntime is not a time" in refused(answer, "E-ENV-005")
