"""Each refusal names exactly what the caller must fix: the field 1101 is missing, the
gateway headers that are absent, the amount a fee line should have carried, the place
JSON broke."""

from __future__ import annotations

import json

import pytest

from flows import WANG_FANG, ok, person, refused, register
from test_errors import fee, post, unchanged
from yibao.api.gateway import NEITHER_SCHEME
from yibao.api.hospital import ROUTE

HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")


def test_1101_without_a_certificate_number_names_mdtrt_cert_no(db, his):
    """Before: ``input.data.certno`` (a field the caller may leave out) was named."""
    for cert_type in ("02", "01", "03"):
        with unchanged(db):
            answer = his.call("1101", {"data": {
                "mdtrt_cert_type": cert_type, "mdtrt_cert_no": "", "card_sn": "",
                "begntime": "", "psn_cert_type": "01", "psn_name": ""}})
        assert refused(answer, "E-ENV-004") == (
            "E-ENV-004 required input field missing: input.data.mdtrt_cert_no")


def test_1101_with_an_id_card_still_takes_the_number_as_certno(db, his):
    answer = his.call("1101", {"data": {
        "mdtrt_cert_type": "02", "mdtrt_cert_no": "", "card_sn": "", "begntime": "",
        "psn_cert_type": "01", "certno": WANG_FANG, "psn_name": ""}})
    assert ok(answer)["baseinfo"]["certno"] == WANG_FANG


@pytest.mark.parametrize("missing", [
    *((name,) for name in HEADERS), ("x-tif-nonce", "x-tif-signature"), HEADERS,
])
def test_a_missing_gateway_header_is_named(db, http, his, missing):
    headers = {k: v for k, v in his.headers().items() if k not in missing}
    body = json.dumps(his.envelope("1101", {})).encode()
    answer = http.post(ROUTE, content=body, headers=headers).json()
    expected = ("missing " + ", ".join(missing) if missing != HEADERS
                else NEITHER_SCHEME)  # no gateway header at all: both schemes named
    assert refused(answer, "E-AUTH-001") == f"E-AUTH-001 gateway headers missing: {expected}"


def test_an_empty_gateway_header_is_named_as_missing(db, http, his):
    headers = his.headers() | {"x-tif-timestamp": ""}
    answer = http.post(ROUTE, content=b"{}", headers=headers).json()
    assert refused(answer, "E-AUTH-001").endswith(": missing x-tif-timestamp")


@pytest.mark.parametrize(("changes", "received", "expected", "operands"), [
    ({"det_item_fee_sumamt": "250.00", "cnt": "2"}, "250.00", "200.00", "100.00 x cnt 2"),
    ({"det_item_fee_sumamt": "100.02"}, "100.02", "100.00", "100.00 x cnt 1"),
    ({"det_item_fee_sumamt": "10.00", "pric": "1.00", "cnt": "3"}, "10.00", "3.00",
     "1.00 x cnt 3"),
    ({"det_item_fee_sumamt": "1.05", "pric": "0.333333", "cnt": "3"}, "1.05", "1.00",
     "0.333333 x cnt 3"),
])
def test_a_fee_line_amount_refusal_gives_expected_and_received(db, his, changes, received,
                                                              expected, operands):
    psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
    mdtrt_id = register(his, psn_no, WANG_FANG)
    with unchanged(db):
        answer = his.call("2204", fee(mdtrt_id, psn_no, sn="7", **changes))
    assert refused(answer, "E-FEE-002") == (
        "E-FEE-002 fee amount does not equal price x count: feedetl_sn 7: "
        f"det_item_fee_sumamt {received} received, {expected} expected "
        f"(pric {operands}, yuan)")


@pytest.mark.parametrize(("body", "where"), [
    (b"", "Expecting value at line 1 column 1 (char 0)"),
    (b'{"infno": "1101",}', "Expecting property name enclosed in double quotes at line 1 "
     "column 18 (char 17)"),
    (b'{\n  "infno": "1101"\n  "msgid": "1"\n}', "Expecting ',' delimiter at line 3 "
     "column 3 (char 22)"),
    (b"{'infno': '1101'}", "Expecting property name enclosed in double quotes at line 1 "
     "column 2 (char 1)"),
])
def test_malformed_json_is_refused_with_line_column_and_char(db, http, his, body, where):
    with unchanged(db):
        answer = post(http, his, body)
    assert refused(answer, "E-ENV-001") == f"E-ENV-001 body is not valid JSON: {where}"
