"""Money at the edges, on both databases: JSON numbers are read as exact decimals (never
through ``float``), an amount with more than two decimals is refused whatever a float
would have rounded it to, and answers write amounts as exact decimal numbers in the
layout they always had. Every rounding of money is a named function of domain/money.py."""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from conftest import CLERK
from flows import WANG_FANG, line, person, refused, register, settle_payload, upload
from test_errors import unchanged
from yibao.api.hospital import ROUTE
from yibao.client import HisClient
from yibao.domain.money import (
    AMOUNT_YUAN_MAX,
    MoneyError,
    fen_to_decimal,
    fen_to_yuan,
    floor_amount_within,
    floor_average,
    floor_ratio,
    json_number,
    yuan_to_fen,
)
from yibao.store.schema import claim, fee_line, settlement

RAW = "@raw@"  # stands for a JSON number written into the body as it is
FEN_MAX = int(AMOUNT_YUAN_MAX * 100)
SOURCE = Path(__file__).parent.parent / "src" / "yibao"


def send_raw(http, his: HisClient, infno: str, payload: dict[str, Any], number: str) -> Any:
    """Send ``payload`` with the string RAW replaced by the JSON number text ``number``;
    the answer read with exact decimals."""
    body = json.dumps(his.envelope(infno, payload), ensure_ascii=False)
    assert body.count(f'"{RAW}"') == 1
    reply = http.post(ROUTE, content=body.replace(f'"{RAW}"', number).encode("utf-8"),
                      headers=his.headers())
    assert reply.status_code == 200, reply.text[:300]
    return json.loads(reply.text, parse_float=Decimal)


@pytest.fixture
def wang(his) -> str:
    return str(person(his, WANG_FANG)["baseinfo"]["psn_no"])


def fee_line_amounts(db) -> list[int]:
    with db.read() as conn:
        return list(conn.execute(select(fee_line.c.det_item_fee_sumamt)).scalars())


# ---------------------------------------------------------------- the national route


@pytest.mark.parametrize(("number", "fen"), [
    ("0.3", 30), ("0.30", 30), ("1e2", 10000), ("1E-2", 1), ("12.5", 1250), ("7", 700),
    ("0.1e1", 100),
])
def test_a_json_number_amount_is_read_exactly(http, his, db, wang, number, fen):
    mdtrt_id = register(his, wang, WANG_FANG)
    item = line("1", "XA01AAA0001", fen_to_yuan(fen)) | {
        "mdtrt_id": mdtrt_id, "psn_no": wang, "det_item_fee_sumamt": RAW}
    answer = send_raw(http, his, "2204", {"feedetail": [item]}, number)
    assert answer["infcode"] == 0, answer["err_msg"]
    assert answer["output"]["result"][0]["det_item_fee_sumamt"] == Decimal(fen) / 100
    assert fee_line_amounts(db) == [fen]


@pytest.mark.parametrize("number", [
    "100.005",                     # three decimals
    "0.30000000000000004",         # 0.1 + 0.2 as a float prints it
    "0.30000000000000000001",      # a float would round this to 0.3
    "100.0000000000000000000001",  # and this to 100.0
    "1e400",                       # a float would be infinity
    "1e-400",                      # and this 0.0
    "-0.3",                        # no refund on an outpatient line
    "99999999999999999999.99",     # beyond 16,2
    "1" + "0" * 400 + ".5",        # a very long number
])
def test_a_json_number_amount_with_a_float_artefact_is_refused(http, his, db, wang, number):
    mdtrt_id = register(his, wang, WANG_FANG)
    item = line("1", "XA01AAA0001", "0.30") | {
        "mdtrt_id": mdtrt_id, "psn_no": wang, "det_item_fee_sumamt": RAW}
    with unchanged(db):
        answer = send_raw(http, his, "2204", {"feedetail": [item]}, number)
    assert "det_item_fee_sumamt" in refused(answer, "E-ENV-005")
    assert fee_line_amounts(db) == []


@pytest.fixture
def visit_of_100(his, wang) -> str:
    mdtrt_id = register(his, wang, WANG_FANG)
    upload(his, mdtrt_id, wang, [line("1", "XA01AAA0001", "100.00")])
    return mdtrt_id


def settlements(db) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(settlement)).scalar_one())


@pytest.mark.parametrize("number", ["1e2", "100", "100.00", "1.00E+2"])
def test_a_settlement_sent_as_a_json_number_is_exact(http, his, db, wang, visit_of_100,
                                                     number):
    payload = settle_payload(wang, visit_of_100, WANG_FANG, RAW)
    answer = send_raw(http, his, "2207", payload, number)
    assert answer["infcode"] == 0, answer["err_msg"]
    setlinfo = answer["output"]["setlinfo"]
    assert setlinfo["medfee_sumamt"] == Decimal("100")
    assert all(not isinstance(v, float) for v in setlinfo.values())
    assert settlements(db) == 1


@pytest.mark.parametrize("number", ["100.0000000000000000001", "99.99999999999999999",
                                    "1e400", "100.001"])
def test_a_settlement_total_with_a_float_artefact_is_refused(http, his, db, wang,
                                                            visit_of_100, number):
    payload = settle_payload(wang, visit_of_100, WANG_FANG, RAW)
    with unchanged(db):
        answer = send_raw(http, his, "2207", payload, number)
    assert "medfee_sumamt" in refused(answer, "E-ENV-005")
    assert settlements(db) == 0


def test_answers_write_amounts_in_the_layout_they_always_had(http, his, wang, visit_of_100):
    """A two-decimal amount is written as the shortest number of its value (100.0, 0.3),
    exactly what writing it through a float gave, so HIS parsers see the same bytes."""
    body = json.dumps(his.envelope("2207", settle_payload(wang, visit_of_100, WANG_FANG,
                                                           "100.00")))
    reply = http.post(ROUTE, content=body.encode("utf-8"), headers=his.headers())
    assert '"medfee_sumamt": 100.0,' in reply.text


# ---------------------------------------------------------------- a REST claim bill


def apply_raw(http, psn_no: str, line_json: str) -> Any:
    """A window application whose single bill line is the JSON text ``line_json``."""
    head = {"psn_no": psn_no, "reason": "no_credential", "payee": {
        "bank_name": "中国工商银行北京分行", "bank_account": "6222020200001234567",
        "account_name": "王芳"}, "bill": {
        "fixmedins_code": "H11010500001", "insutype": "310", "med_type": "11",
        "begntime": "2026-04-20T10:00:00", "invono": "INV-MONEY", "lines": [RAW]}}
    body = json.dumps(head, ensure_ascii=False).replace(f'"{RAW}"', line_json)
    return http.post("/admin/v1/claims", content=body.encode("utf-8"),
                     headers=CLERK | {"content-type": "application/json"})


def claims(db) -> list[int]:
    with db.read() as conn:
        return list(conn.execute(select(claim.c.medfee_sumamt)).scalars())


LINE = '{"feedetl_sn": "1", "med_list_codg": "XA01AAA0001", '


@pytest.mark.parametrize(("numbers", "fen"), [
    ('"cnt": 1, "pric": 10.5, "det_item_fee_sumamt": "10.50"', 1050),
    ('"cnt": 2, "pric": 0.1, "det_item_fee_sumamt": "0.20"', 20),
    ('"cnt": 1e0, "pric": 1e2, "det_item_fee_sumamt": "1e2"', 10000),
    ('"cnt": 0.5, "pric": 0.2, "det_item_fee_sumamt": "0.10"', 10),
])
def test_a_rest_bill_reads_json_numbers_exactly(http, his, db, numbers, fen):
    reply = apply_raw(http, str(person(his, WANG_FANG)["baseinfo"]["psn_no"]),
                      LINE + numbers + "}")
    assert reply.status_code == 201, reply.text
    assert claims(db) == [fen]


INVALID = "E-REQ-001"  # the problem of a body the REST model refuses


@pytest.mark.parametrize(("numbers", "status", "code"), [
    ('"cnt": 1, "pric": 10.50000000000000000001, "det_item_fee_sumamt": "10.50"', 422, INVALID),
    ('"cnt": 1.0000000000000000001, "pric": 10.5, "det_item_fee_sumamt": "10.50"', 422, INVALID),
    # trailing zeros: 29 characters would not fit the stored column (String(24))
    ('"cnt": 1.000000000000000000000000000, "pric": 10.5, "det_item_fee_sumamt": "10.50"',
     422, INVALID),
    ('"cnt": "1.0000000", "pric": "10.5000000", "det_item_fee_sumamt": "10.50"', 422, INVALID),
    ('"cnt": 1e400, "pric": 10.5, "det_item_fee_sumamt": "10.50"', 422, INVALID),
    ('"cnt": 1, "pric": 1e-400, "det_item_fee_sumamt": "10.50"', 422, INVALID),
    ('"cnt": 1, "pric": 10.5, "det_item_fee_sumamt": 10.5', 422, INVALID),  # yuan text
    ('"cnt": 1, "pric": 10.005, "det_item_fee_sumamt": "10.005"', 400, "E-CLM-006"),
    ('"cnt": 1, "pric": 10.5, "det_item_fee_sumamt": "10.50000000000000001"', 400,
     "E-CLM-006"),
    ('"cnt": 1, "pric": 10.5, "det_item_fee_sumamt": "1e400"', 400, "E-CLM-006"),
])
def test_a_rest_bill_with_a_float_artefact_is_refused(http, his, db, numbers, status, code):
    psn_no = str(person(his, WANG_FANG)["baseinfo"]["psn_no"])
    with unchanged(db):
        reply = apply_raw(http, psn_no, LINE + numbers + "}")
    assert reply.status_code == status, reply.text
    assert reply.json().get("code", "") == code
    assert claims(db) == []


# ---------------------------------------------------------------- domain/money.py


@given(st.integers(-FEN_MAX, FEN_MAX))
def test_yuan_text_round_trips_through_fen(fen):
    text = fen_to_yuan(fen)
    assert yuan_to_fen(text, field="x", allow_negative=True) == fen
    assert fen_to_yuan(yuan_to_fen(text, field="x", allow_negative=True)) == text
    number = json_number(fen_to_decimal(fen))
    assert yuan_to_fen(json.loads(number, parse_float=Decimal), field="x",
                       allow_negative=True) == fen
    assert number == repr(float(text))  # the bytes answers always had


@given(st.decimals(min_value=-AMOUNT_YUAN_MAX, max_value=AMOUNT_YUAN_MAX, places=2))
def test_every_two_decimal_amount_in_range_is_read_and_written_back(yuan):
    fen = yuan_to_fen(str(yuan), field="x", allow_negative=True)
    assert Decimal(fen_to_yuan(fen)) == yuan
    assert fen_to_decimal(fen) == yuan


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_json_number_is_the_exact_value(value):
    text = json_number(value)
    assert Decimal(text) == value
    assert json.loads(text, parse_float=Decimal) == value


@pytest.mark.parametrize(("value", "text"), [
    ("0", "0.0"), ("-0.00", "-0.0"), ("0.01", "0.01"), ("42895.00", "42895.0"),
    ("1E-5", "1e-05"), ("0.0001", "0.0001"), ("1E+16", "1e+16"), ("1.5E+20", "1.5e+20"),
    ("0.30000000000000000001", "0.30000000000000000001"),
])
def test_json_number_layout(value, text):
    assert json_number(Decimal(value)) == text


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_json_number_refuses_what_is_not_a_number(value):
    with pytest.raises(MoneyError):
        json_number(Decimal(value))


def test_the_named_floor_roundings():
    assert floor_ratio(1, 3) == Decimal("0.3333") and floor_ratio(2, 3) == Decimal("0.6666")
    assert floor_ratio(5, 0) == 0
    assert floor_amount_within(100, Decimal("0.3")) == 333  # 333 x 0.3 = 99.9 <= 100
    assert floor_amount_within(90, Decimal("0.9")) == 100
    assert floor_average(10, 3) == 3 and floor_average(9, 3) == 3


# ---------------------------------------------------------------- no float on the way

# The only float() calls left in the code that reads and writes messages and money: none
# of them is money.
FLOAT_ALLOWED = {
    ("api/app.py", "_deliverer_from_env"),  # YIBAO_OUTBOX_INTERVAL, seconds
    ("services/face.py", "threshold"),      # YIBAO_FACE_THRESHOLD, a face distance
    ("services/face.py", "compare"),        # the distance between two face descriptors
    ("api/channel.py", "throttle_of"),      # YIBAO_CHANNEL_RATE, requests per second
    ("domain/channels.py", "take"),         # a rate limit's tokens (requests, not money)
}
CHECKED = ("api", "domain", "services", "analytics")


def calls(name: str) -> set[tuple[str, str]]:
    """(module, enclosing function) of every call of the built-in ``name``."""
    found = set()
    for folder in CHECKED:
        for path in sorted((SOURCE / folder).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                            and node.func.id == name):
                        found.add((f"{folder}/{path.name}", function.name))
    return found


def test_no_float_on_the_money_paths():
    assert calls("float") == FLOAT_ALLOWED


def test_every_json_reader_of_a_message_reads_exact_decimals():
    """Under api/, JSON is parsed by envelope.loads or with parse_float=Decimal."""
    bare = []
    for path in sorted((SOURCE / "api").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "loads" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "json"
                    and "parse_float" not in {k.arg for k in node.keywords}):
                bare.append(f"{path.name}:{node.lineno}")
    assert bare == []
