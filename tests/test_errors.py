"""Hostile and malformed input on the hospital route.

Every answer is HTTP 200 JSON with infcode -1 and an err_msg that starts with the
expected catalogue code, and a refused message changes nothing in the database (the
gateway's nonce log aside). A property test throws arbitrary JSON at every transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from flows import (
    WANG_FANG,
    line,
    ok,
    person,
    refused,
    register,
    settle_payload,
    upload,
)
from yibao.api import transactions
from yibao.api.envelope import STRING_LENGTH_MAX
from yibao.api.hospital import ROUTE
from yibao.client import HisClient
from yibao.domain.errors import CATALOGUE
from yibao.store.schema import metadata, visit

OTHER = "H11010500002"


# ---------------------------------------------------------------- helpers


def snapshot(db) -> dict[str, list[str]]:
    """Every row of every table except the nonce log and the refusals counter (kept on
    purpose for a refused message)."""
    with db.read() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)))
            for t in metadata.sorted_tables if t.name not in ("gateway_nonce", "refusal_count")
        }


@contextmanager
def unchanged(db) -> Iterator[None]:
    before = snapshot(db)
    yield
    assert snapshot(db) == before, "a refused message changed the database"


def post(http, his: HisClient, body: bytes) -> dict[str, Any]:
    """Send raw bytes with valid gateway headers; the answer must be HTTP 200 JSON."""
    reply = http.post(ROUTE, content=body, headers=his.headers())
    assert reply.status_code == 200, reply.text[:300]
    assert reply.headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = reply.json()
    return answer


def send(http, his: HisClient, message: dict[str, Any]) -> dict[str, Any]:
    return post(http, his, json.dumps(message).encode("utf-8"))


def rejected(answer: dict[str, Any], code: str) -> str:
    """A well-formed refusal with ``code``, and nothing in output."""
    message = refused(answer, code)
    assert len(answer["inf_refmsgid"]) == 30
    assert answer["output"] == {}
    return message


def not_internal(answer: dict[str, Any]) -> None:
    """A clean refusal: infcode -1 and a catalogue code other than an internal error."""
    assert answer["infcode"] == -1, answer
    code = answer["err_msg"].split(" ", 1)[0]
    assert code in CATALOGUE, answer["err_msg"]
    assert not code.startswith("E-SYS"), answer["err_msg"]


def reg_payload(psn_no: str, certno: str = WANG_FANG, /, **changes: Any) -> dict[str, Any]:
    data = {
        "psn_no": psn_no, "insutype": "310", "begntime": "2026-05-11 09:00:00",
        "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "OP1",
        "atddr_no": "D001", "dr_name": "医生甲", "dept_code": "K01", "dept_name": "内科",
        "caty": "A03"}
    data.update(changes)
    return {"data": {k: v for k, v in data.items() if v is not ...}}


def balance(his: HisClient) -> Decimal:
    return Decimal(str(person(his, WANG_FANG)["insuinfo"][0]["balc"]))


@pytest.fixture
def wang(his) -> str:
    return str(person(his, WANG_FANG)["baseinfo"]["psn_no"])


@pytest.fixture
def open_visit(his, wang) -> str:
    """Wang Fang's visit with one 甲 line of 100.00 uploaded (sn "1")."""
    mdtrt_id = register(his, wang, WANG_FANG)
    upload(his, mdtrt_id, wang, [line("1", "XA01AAA0001", "100.00")])
    return mdtrt_id


def fee(mdtrt_id: str, psn_no: str, sn: str = "2", **changes: Any) -> dict[str, Any]:
    item = line(sn, "XA01AAA0001", "100.00") | {"mdtrt_id": mdtrt_id, "psn_no": psn_no}
    item.update(changes)
    return {"feedetail": [item]}


# ---------------------------------------------------------------- the body


@pytest.mark.parametrize("body", [
    b"not json", b"{", b'{"infno": "1101",}', b"{'infno': '1101'}", b"", b"\xff\xfe\xfd",
    "{\"infno\": \"1101\"}".encode("utf-16"),
])
def test_body_that_is_not_json(http, his, db, body):
    with unchanged(db):
        rejected(post(http, his, body), "E-ENV-001")


@pytest.mark.parametrize("body", [b"[]", b'[{"infno": "1101"}]', b'"1101"', b"42", b"null",
                                  b"true"])
def test_json_that_is_not_an_object(http, his, db, body):
    with unchanged(db):
        rejected(post(http, his, body), "E-ENV-001")


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def test_nesting_deeper_than_the_limit(http, his, db, wang):
    payload = reg_payload(wang)
    payload["data"]["dept_name"] = nested(10)  # 20 levels inside input
    with unchanged(db):
        rejected(send(http, his, his.envelope("2201", payload)), "E-ENV-006")


def test_extreme_nesting_is_refused_cleanly(http, his, db):
    body = b'{"infno": "1101", "input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with unchanged(db):
        answer = post(http, his, body)
    not_internal(answer)
    assert answer["err_msg"][:9] in ("E-ENV-001", "E-ENV-006"), answer["err_msg"]


def test_body_over_4_mb(http, his, db, wang):
    message = his.envelope("2201", reg_payload(wang))
    message["fixmedins_name"] = "x" * (4 * 1024 * 1024)
    with unchanged(db):
        rejected(send(http, his, message), "E-ENV-006")


def test_body_just_under_the_limit_is_read(http, his, db, wang):
    message = his.envelope("2201", reg_payload(wang))
    # the padding in three fields: a single string is limited to STRING_LENGTH_MAX
    message["fixmedins_name"] = message["cainfo"] = "x" * STRING_LENGTH_MAX
    message["dev_safe_info"] = "x" * (4 * 1024 * 1024 - 2000 - 2 * STRING_LENGTH_MAX)
    assert ok(send(http, his, message))["data"]["mdtrt_id"]


# ---------------------------------------------------------------- the envelope


@pytest.mark.parametrize("infno", ["9999", "0000", "22O7", "1101a"])
def test_unknown_infno(http, his, db, infno):
    with unchanged(db):
        message = refused(his.call(infno, {"data": {}}), "E-ENV-003")
    assert infno in message


@pytest.mark.parametrize("field, value", [
    ("msgid", ...), ("msgid", ""), ("msgid", "null"), ("msgid", {"id": 1}),
    ("msgid", "x" * 31), ("infno", ...), ("infno", ["2201"]), ("fixmedins_code", ...),
    ("input", ["data"]), ("input", "data"),
])
def test_envelope_field_missing_or_invalid(http, his, db, wang, field, value):
    message = his.envelope("2201", reg_payload(wang))
    if value is ...:
        del message[field]
    else:
        message[field] = value
    with unchanged(db):
        rejected(send(http, his, message), "E-ENV-002")


@pytest.mark.parametrize("msgid", ["H1101-0001", "编号0001", "a b", "H1101\n0001"])
def test_malformed_msgid(http, his, db, wang, msgid):
    with unchanged(db):
        answer = his.call("2201", reg_payload(wang), msgid=msgid)
    assert answer["err_msg"][:9] in ("E-MSG-001", "E-ENV-002"), answer["err_msg"]
    assert answer["infcode"] == -1


# ---------------------------------------------------------------- required fields


def test_missing_required_fields_of_a_registration(his, db, wang):
    with unchanged(db):
        for payload, field in [
            (reg_payload(wang, psn_no=...), "psn_no"),
            (reg_payload(wang, psn_no="null"), "psn_no"),
            (reg_payload(wang, psn_no="  "), "psn_no"),
            (reg_payload(wang, insutype=...), "insutype"),
            (reg_payload(wang, ipt_otp_no="NULL"), "ipt_otp_no"),
            ({}, "data"),
            ({"data": None}, "data"),
        ]:
            message = rejected(his.call("2201", payload), "E-ENV-004")
            assert field in message


def test_settlement_without_medfee_sumamt(his, db, wang, open_visit):
    payload = settle_payload(wang, open_visit, WANG_FANG, "100.00")
    del payload["data"]["medfee_sumamt"]
    with unchanged(db):
        assert "medfee_sumamt" in rejected(his.call("2207", payload), "E-ENV-004")


def test_fee_upload_with_no_lines_or_no_serial(his, db, wang, open_visit):
    with unchanged(db):
        rejected(his.call("2204", {"feedetail": []}), "E-ENV-004")
        rejected(his.call("2204", {}), "E-ENV-004")
        answer = his.call("2204", fee(open_visit, wang, sn=""))
        assert "feedetl_sn" in rejected(answer, "E-ENV-004")


# ---------------------------------------------------------------- wrong types


@pytest.mark.parametrize("value", [{"no": "1"}, ["1"], True])
def test_object_where_text_is_expected(his, db, wang, value):
    with unchanged(db):
        message = rejected(his.call("2201", reg_payload(wang, psn_no=value)), "E-ENV-005")
    assert "psn_no" in message


def test_node_that_is_not_an_object(his, db):
    with unchanged(db):
        rejected(his.call("2201", {"data": "psn_no=1"}), "E-ENV-005")
        rejected(his.call("2204", {"feedetail": ["line"]}), "E-ENV-005")
        rejected(his.call("2204", {"feedetail": 7}), "E-ENV-005")


@pytest.mark.parametrize("amount", ["abc", "100.001", "0.005", "12,00", "1e2x", True,
                                    {"yuan": 100}, "NaN", "Infinity", "-100.00"])
def test_bad_settlement_amount(his, db, wang, open_visit, amount):
    payload = settle_payload(wang, open_visit, WANG_FANG, "100.00")
    payload["data"]["medfee_sumamt"] = amount
    with unchanged(db):
        answer = his.call("2207", payload)
    assert "medfee_sumamt" in rejected(answer, "E-ENV-005")


@pytest.mark.parametrize("changes", [
    {"det_item_fee_sumamt": "-100.00", "cnt": "-1"},   # refunds are inpatient only
    {"det_item_fee_sumamt": "-100.00"},
    {"det_item_fee_sumamt": "0.00", "cnt": "0"},
    {"cnt": "-1"},
    {"cnt": "abc"},
    {"cnt": "1.0000001"},
    {"pric": "NaN"},
    {"pric": "-100.00", "cnt": "-1"},
    {"det_item_fee_sumamt": "100.001"},
    {"fee_ocur_time": "yesterday"},
])
def test_bad_fee_line(his, db, wang, open_visit, changes):
    with unchanged(db):
        rejected(his.call("2204", fee(open_visit, wang, **changes)), "E-ENV-005")


def test_bad_flag_time_and_month(his, db, wang, open_visit):
    payload = settle_payload(wang, open_visit, WANG_FANG, "100.00")
    payload["data"]["acct_used_flag"] = "3"  # 2 is a family member's account (共济)
    with unchanged(db):
        assert "acct_used_flag" in rejected(his.call("2207", payload), "E-ENV-005")
        rejected(his.call("2201", reg_payload(wang, begntime="11/05/2026")), "E-ENV-005")
        for month in ("2026-05", "２０２６０５", "20260²", "٢٠٢٦٠٥"):  # ASCII digits only
            rejected(his.call("5206", {"data": {"psn_no": wang, "cum_ym": month}}),
                     "E-ENV-005")
        for page in ("²", "１"):
            rejected(his.call("1312", {"data": {"page_num": page, "page_size": "2"}}),
                     "E-ENV-005")


def test_control_characters_in_text(his, db, wang):
    with unchanged(db):
        rejected(his.call("2201", reg_payload(wang, dr_name="医生\x00甲")), "E-ENV-005")
        rejected(his.call("2201", reg_payload(wang, ipt_otp_no="OP\x1b[31m1")), "E-ENV-005")


def test_text_longer_than_its_field(his, db, wang):
    with unchanged(db):
        rejected(his.call("2201", reg_payload(wang, ipt_otp_no="9" * 31)), "E-ENV-005")


# ---------------------------------------------------------------- code values


def test_unknown_code_values(his, db, wang, open_visit):
    with unchanged(db):
        message = rejected(his.call("1101", {"data": {
            "mdtrt_cert_type": "09", "mdtrt_cert_no": WANG_FANG}}), "E-ENV-007")
        assert "mdtrt_cert_type" in message
        message = rejected(his.call("2201", reg_payload(wang, insutype="999")), "E-ENV-007")
        assert "insutype" in message
        rejected(his.call("2201", reg_payload(wang, mdtrt_cert_type="2")), "E-ENV-007")
        payload = settle_payload(wang, open_visit, WANG_FANG, "100.00")
        payload["data"]["psn_setlway"] = "02"
        rejected(his.call("2207", payload), "E-ENV-007")


# ---------------------------------------------------------------- injection and unicode

INJECTIONS = [
    "' OR '1'='1", "1' OR 1=1 --", "'; DROP TABLE person; --", "\" OR \"\"=\"",
    "110105198503150027' --", "%", "_", "110105198503150027 OR 1=1",
]
LOOKALIKES = [
    "１１０１０５１９８５０３１５００２７",          # fullwidth digits
    "110105198503150027\u200b",                # zero-width space
    "\u202e720051305891501011",                # right-to-left override
    "110105198503150027\ufeff",                # byte order mark
    "11010519850315002７",                      # one fullwidth digit
    "\u0661\u0661\u0660\u0661\u0660\u0665",    # Arabic-Indic digits
]


@pytest.mark.parametrize("certno", INJECTIONS + LOOKALIKES)
def test_person_lookup_with_hostile_certno(his, db, certno):
    with unchanged(db):
        rejected(his.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno,
                                            "certno": certno}}), "E-PSN-001")


@pytest.mark.parametrize("psn_no", [*INJECTIONS, "测试\u200b", "𝟏𝟐𝟑"])
def test_queries_and_settlement_with_hostile_psn_no(his, db, open_visit, psn_no):
    with unchanged(db):
        rejected(his.call("5206", {"data": {"psn_no": psn_no, "cum_ym": "202605"}}),
                 "E-PSN-001")
        payload = settle_payload(psn_no, open_visit, WANG_FANG, "100.00")
        rejected(his.call("2207", payload), "E-PSN-001")


@pytest.mark.parametrize("mdtrt_id", INJECTIONS)
def test_cancelling_a_visit_with_hostile_mdtrt_id(his, db, wang, mdtrt_id):
    real = register(his, wang, WANG_FANG)
    with unchanged(db):
        rejected(his.call("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": wang}}),
                 "E-VIS-001")
        rejected(his.call("2207", settle_payload(wang, mdtrt_id, WANG_FANG, "1.00")),
                 "E-VIS-001")
    with db.read() as conn:
        assert conn.execute(select(visit.c.status).where(visit.c.mdtrt_id == real)
                            ).scalar_one() == "open"


# ---------------------------------------------------------------- visit state


def test_settling_a_cancelled_visit(his, db, wang):
    mdtrt_id = register(his, wang, WANG_FANG)
    ok(his.call("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": wang}}))
    with unchanged(db):
        rejected(his.call("2207", settle_payload(wang, mdtrt_id, WANG_FANG, "100.00")),
                 "E-VIS-002")
        rejected(his.call("2204", fee(mdtrt_id, wang)), "E-VIS-002")
        rejected(his.call("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": wang}}),
                 "E-VIS-002")


def test_cancelling_a_settled_visit(his, db, wang, open_visit):
    ok(his.call("2207", settle_payload(wang, open_visit, WANG_FANG, "100.00")))
    paid = balance(his)
    with unchanged(db):
        rejected(his.call("2202", {"data": {"mdtrt_id": open_visit, "psn_no": wang}}),
                 "E-SETL-005")
    assert balance(his) == paid


def test_settling_twice_and_cancelling_twice(his, db, wang, open_visit):
    payload = settle_payload(wang, open_visit, WANG_FANG, "100.00")
    s = ok(his.call("2207", payload))["setlinfo"]
    with unchanged(db):
        rejected(his.call("2207", payload), "E-FEE-004")  # nothing left to settle
    cancel = {"data": {"setl_id": s["setl_id"], "mdtrt_id": open_visit, "psn_no": wang}}
    ok(his.call("2208", cancel))
    with unchanged(db):
        rejected(his.call("2208", cancel), "E-SETL-003")
    assert balance(his) == Decimal(3000)


def test_another_institutions_visit_is_unknown(his_factory, db, wang, open_visit):
    other = his_factory(OTHER)
    with unchanged(db):
        rejected(other.call("2207", settle_payload(wang, open_visit, WANG_FANG, "100.00")),
                 "E-VIS-001")
        rejected(other.call("2204", fee(open_visit, wang)), "E-VIS-001")
        rejected(other.call("2202", {"data": {"mdtrt_id": open_visit, "psn_no": wang}}),
                 "E-VIS-001")


# ---------------------------------------------------------------- amounts


def test_settlement_total_that_differs_from_the_details(his, db, wang, open_visit):
    with unchanged(db):
        for sent in ("100.01", "99.99", "0.00", "1000.00"):
            answer = his.call("2207", settle_payload(wang, open_visit, WANG_FANG, sent))
            message = rejected(answer, "E-SETL-001")
            assert "100.00" in message
        payload = settle_payload(wang, open_visit, WANG_FANG, "100.00")
        payload["data"]["inscp_scp_amt"] = "50.00"
        assert "inscp_scp_amt" in rejected(his.call("2207", payload), "E-SETL-001")
    assert balance(his) == Decimal(3000)


def test_duplicate_fee_serial_numbers(his, db, wang, open_visit):
    with unchanged(db):
        # the serial of a line already uploaded to this visit
        assert "1" in rejected(his.call("2204", fee(open_visit, wang, sn="1")), "E-FEE-001")
        # the same serial twice within one message
        twice = fee(open_visit, wang, sn="5")
        twice["feedetail"].append(dict(twice["feedetail"][0]))
        rejected(his.call("2204", twice), "E-FEE-001")


def test_line_amount_that_is_not_price_times_count(his, db, wang, open_visit):
    with unchanged(db):
        for changes in ({"det_item_fee_sumamt": "250.00", "cnt": "2"},
                        {"det_item_fee_sumamt": "100.02"},
                        {"det_item_fee_sumamt": "10.00", "pric": "1.00", "cnt": "3"}):
            rejected(his.call("2204", fee(open_visit, wang, **changes)), "E-FEE-002")


def test_price_times_count_rounded_to_the_fen_is_accepted(his, wang, open_visit):
    result = ok(his.call("2204", fee(open_visit, wang, det_item_fee_sumamt="1.00",
                                     pric="0.333333", cnt="3")))["result"]
    assert Decimal(str(result[0]["det_item_fee_sumamt"])) == Decimal("1.00")


@pytest.mark.parametrize("amount", [
    "1" + "0" * 29, "1e40", 1e300, "-1e40",
    "1e999999999",
])
def test_huge_amount_is_refused_as_out_of_range(his, db, wang, open_visit, amount):
    payload = settle_payload(wang, open_visit, WANG_FANG, "100.00")
    payload["data"]["medfee_sumamt"] = amount
    with unchanged(db):
        rejected(his.call("2207", payload), "E-ENV-005")


# ---------------------------------------------------------------- bugs


def test_lone_surrogate_in_a_field_is_refused_cleanly(http, his, db):
    message = his.envelope("1101", {"data": {"mdtrt_cert_type": "02",
                                             "mdtrt_cert_no": "\ud800"}})
    with unchanged(db):
        answer = send(http, his, message)  # json.dumps escapes it as \ud800
    not_internal(answer)


def test_huge_integer_literal_is_refused_cleanly(http, his, db):
    message = his.envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": 0}})
    body = json.dumps(message).replace('"mdtrt_cert_no": 0', '"mdtrt_cert_no": ' + "9" * 5000)
    with unchanged(db):
        answer = post(http, his, body.encode())
    not_internal(answer)
    assert answer["err_msg"][:9] in ("E-ENV-001", "E-ENV-005", "E-ENV-006")


# ---------------------------------------------------------------- property

SCALARS = (
    st.none() | st.booleans() | st.text(max_size=20) | st.integers() | st.floats()
    | st.sampled_from(["null", "", "0", "01", "1e40", "1" + "0" * 29, "1e999999999"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
NODES = ["data", "feedetail", "mdtrtinfo", "diseinfo", "dscginfo", "signIn", "signOut",
         "fsUploadIn", "fsDownloadIn", "adminfo", "medinsinfo"]
FIELDS = [
    "acct_used_flag", "atddr_no", "begntime", "card_sn", "certno", "chrg_bchno", "cnt",
    "cum_ym", "det_item_fee_sumamt", "diag_code", "diag_name", "diag_srt_no", "diag_type",
    "endtime", "fee_ocur_time", "feedetl_sn", "file_qury_no", "filename", "init_feedetl_sn",
    "insutype", "ipt_no", "ipt_otp_no", "mdtrt_cert_no", "mdtrt_cert_type", "mdtrt_id",
    "med_list_codg", "med_type", "medfee_sumamt", "medins_list_codg", "mid_setl_flag",
    "oinfno", "omsgid", "opter_no", "page_num", "page_size", "pric", "psn_no", "psn_setlway",
    "setl_id", "sign_no", "ver", "inscp_scp_amt", "fulamt_ownpay_amt",
    # 2306, 1201, 3301/3302/1317, 2403, 3101/3102
    "bkkp_sn", "fixmedins_type", "fixmedins_code", "list_type", "begndate", "enddate",
    "fixmedins_hilist_id", "fixmedins_hilist_name", "updt_time", "adm_bed", "patient_dtos",
]
PLAUSIBLE = st.sampled_from([
    "01", "02", "03", "310", "390", "11", "21", "1", "0", "0000", "100.00", "-1", "202605",
    "2026-05-11 09:00:00", WANG_FANG, "11000000000000000001", "XA01AAA0001", "2207",
])
# a node with every known field set to a plausible value, a few of them replaced by junk
NODE = st.builds(
    lambda base, junk: base | junk,
    st.fixed_dictionaries({name: PLAUSIBLE for name in FIELDS}),
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=3),
)
# every transaction's node is present (a node, a list of nodes, or junk)
INPUTS = JSON | st.fixed_dictionaries(
    {name: NODE | st.lists(NODE, min_size=1, max_size=2) | JSON for name in NODES})


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(infno=st.sampled_from(sorted(transactions.table())), payload=INPUTS)
def test_arbitrary_input_always_gets_a_well_formed_answer(http, his, db, infno, payload):
    message = his.envelope(infno, {})
    message["input"] = payload
    body = json.dumps(message, ensure_ascii=False).encode("utf-8")
    before = snapshot(db)
    reply = http.post(ROUTE, content=body, headers=his.headers())
    assert reply.status_code == 200
    if reply.headers["content-type"].startswith("application/zip"):
        assert infno == "9102"
        return
    assert reply.headers["content-type"].startswith("application/json")
    answer = reply.json()
    assert answer["infcode"] in (0, -1)
    assert isinstance(answer["inf_refmsgid"], str) and len(answer["inf_refmsgid"]) == 30
    if answer["infcode"] == -1:
        not_internal(answer)
        assert len(answer["err_msg"]) <= 200
        assert snapshot(db) == before, "a refused message changed the database"
