"""The mobile-payment centre's routes (/org/local/api/hos/*, api/mpc.py): requests sealed as a
hospital seals them (tests/mpc_client.py, the demo institution's keys), answers sealed by
the centre and verified with its public key; every refusal an envelope, on both
databases."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import ROOT
from mpc_client import MpcHospital, china_stamp
from yibao import cli
from yibao.api import envelope as env_mod
from yibao.api import mpc
from yibao.api import mpc_envelope as codec
from yibao.api.app import create_app
from yibao.api.registry import Answer, Transaction
from yibao.domain.errors import Refused
from yibao.services import face
from yibao.services.context import CHINA, ActorKind, Entry, Ids
from yibao.store import mpc_apps
from yibao.store.demo import INSTITUTIONS, demo_mpc_app

CODE = re.compile(r"^(E-[A-Z]+-\d{3}) ")
ORDER_QUERY = {"payOrdId": "ORD110000202605110930000000000001", "payToken": "T1",
               "orgCodg": "H11010500001", "idNo": "110105198503150027", "userName": "王芳",
               "idType": "01", "extData": {}}
# the code a query of an unknown order gets (api/tx_online.py)
UNKNOWN_ORDER_CODES = {"E-ORD-001"}


def unix_of(moment: datetime) -> float:
    return moment.replace(tzinfo=CHINA).timestamp()


@pytest.fixture
def mpc_http(db, clock):
    """The application with the machine clock stopped at the business clock's moment."""
    made = create_app(db, clock=clock, unix_clock=lambda: unix_of(clock.now))
    with TestClient(made) as client:
        yield client


@pytest.fixture
def hospital(mpc_http) -> MpcHospital:
    return MpcHospital(mpc_http)


def refusal_code(answer: dict) -> str:
    assert answer["code"] == -1, answer
    found = CODE.match(answer["message"])
    assert found, answer["message"]
    return found.group(1)


def sealed_refusal(hospital: MpcHospital, answer: dict) -> str:
    """The code of a refusal the centre sealed (its signature verified, data empty)."""
    assert hospital.opened(answer) == {}
    assert answer["appId"] == hospital.app.app_id and answer["signType"] == "SM2"
    return refusal_code(answer)


def test_a_query_of_an_unknown_order_answers_a_sealed_refusal(hospital, clock):
    answer = hospital.call("query_order_info", ORDER_QUERY, china_stamp(clock.now))
    assert sealed_refusal(hospital, answer) in UNKNOWN_ORDER_CODES
    assert answer["timestamp"] == china_stamp(clock.now)
    with pytest.raises(Refused):  # not sealed by another key
        MpcHospital(hospital.http, centre_public_key=codec.new_key_pair().public_key).opened(
            answer)


@pytest.mark.parametrize("name", list(mpc.PATHS))
def test_every_path_reaches_its_transaction(hospital, clock, name):
    answer = hospital.call(name, {"payOrdId": "ORD1"}, china_stamp(clock.now))
    code = sealed_refusal(hospital, answer)
    # through the envelope: the transaction itself answered (a field it requires is missing)
    assert code == "E-ENV-004", answer["message"]


def test_a_signature_by_another_key_is_refused(hospital, clock):
    forged = hospital.envelope(ORDER_QUERY, china_stamp(clock.now),
                               private_key=codec.new_key_pair().private_key)
    assert sealed_refusal(hospital, hospital.post("query_order_info", forged)) == "E-MPC-002"
    signed = hospital.envelope(ORDER_QUERY, china_stamp(clock.now))
    other = hospital.envelope({**ORDER_QUERY, "payToken": "T2"}, china_stamp(clock.now))
    swapped = {**signed, "encData": other["encData"]}  # a valid ciphertext of other data
    assert sealed_refusal(hospital, hospital.post("query_order_info", swapped)) == "E-MPC-002"


def test_another_institutions_key_is_refused(mpc_http, clock):
    """An institution cannot sign for another's app with its own key."""
    second = MpcHospital(mpc_http, "H11010500002")
    first = MpcHospital(mpc_http, "H11010500001")
    forged = first.envelope(ORDER_QUERY, china_stamp(clock.now),
                            private_key=second.private_key)
    assert sealed_refusal(first, first.post("query_order_info", forged)) == "E-MPC-002"


def test_an_unknown_app_id_answers_an_unsealed_envelope(hospital, clock):
    sent = hospital.envelope(ORDER_QUERY, china_stamp(clock.now), app_id="F" * 32)
    answer = hospital.post("query_order_info", sent)
    assert refusal_code(answer) == "E-MPC-001"
    assert "encData" not in answer and "signData" not in answer
    assert answer["encType"] == "SM4" and answer["version"] == "2.0.1"


@pytest.mark.parametrize("shift", [timedelta(seconds=301), timedelta(seconds=-301),
                                   timedelta(days=1)])
def test_a_stale_or_future_timestamp_is_refused(hospital, clock, shift):
    answer = hospital.call("query_order_info", ORDER_QUERY, china_stamp(clock.now + shift))
    assert sealed_refusal(hospital, answer) == "E-MPC-004"


def test_a_timestamp_within_the_window_is_accepted(hospital, clock):
    answer = hospital.call("query_order_info", ORDER_QUERY,
                           china_stamp(clock.now - timedelta(seconds=300)))
    assert sealed_refusal(hospital, answer) in UNKNOWN_ORDER_CODES


@pytest.mark.parametrize("as_number", [False, True])
def test_an_epoch_milliseconds_timestamp_is_accepted(hospital, clock, as_number):
    millis = int(unix_of(clock.now) * 1000) + 250
    answer = hospital.call("query_order_info", ORDER_QUERY,
                           millis if as_number else str(millis))
    assert sealed_refusal(hospital, answer) in UNKNOWN_ORDER_CODES
    stale = str(millis - 301_000)
    assert sealed_refusal(hospital, hospital.call("query_order_info", ORDER_QUERY, stale)) == (
        "E-MPC-004")


def test_a_replayed_request_is_refused(hospital, clock):
    sent = hospital.envelope(ORDER_QUERY, china_stamp(clock.now))
    first = hospital.post("query_order_info", sent)
    assert sealed_refusal(hospital, first) in UNKNOWN_ORDER_CODES
    assert sealed_refusal(hospital, hospital.post("query_order_info", sent)) == "E-MPC-005"
    assert sealed_refusal(hospital, hospital.post("pay_order", sent)) == "E-MPC-005"
    again = hospital.envelope(ORDER_QUERY, china_stamp(clock.now))  # a new signature
    assert sealed_refusal(hospital, hospital.post("query_order_info", again)) != "E-MPC-005"


@pytest.mark.parametrize("body, code", [
    (b"not json", "E-ENV-001"), (b"", "E-ENV-001"), (b"[1, 2]", "E-ENV-001"),
    (b"\xff\xfe", "E-ENV-001"), (b"{}", "E-ENV-002"), (b'{"appId": 5}', "E-ENV-002"),
    (b"[" * 5000 + b"]" * 5000, "E-ENV-006"),
])
def test_garbage_answers_an_envelope_shaped_error(hospital, body, code):
    answer = hospital.post("query_order_info", body)
    assert refusal_code(answer) == code
    assert answer["signType"] == "SM2" and "signData" not in answer


def test_a_bad_envelope_of_a_known_app_answers_a_sealed_refusal(hospital, clock):
    sent = hospital.envelope(ORDER_QUERY, china_stamp(clock.now))
    for broken, code in (({**sent, "encData": "XYZ"}, "E-MPC-003"),
                         ({**sent, "signData": ""}, "E-ENV-002"),
                         ({**sent, "encType": "AES"}, "E-ENV-002")):
        assert sealed_refusal(hospital, hospital.post("query_order_info", broken)) == code


def test_an_oversized_body_and_an_unknown_path_answer_envelopes(hospital, clock):
    big = b" " * (env_mod.BODY_BYTES_MAX + 1)
    response = hospital.http.post(f"{mpc.PREFIX}/query_order_info", content=big)
    assert response.status_code == 200 and refusal_code(response.json()) == "E-ENV-006"
    answer = hospital.call("no_such_thing", ORDER_QUERY, china_stamp(clock.now))
    assert sealed_refusal(hospital, answer) == "E-ENV-003"
    assert refusal_code(hospital.post("no_such_thing", b"nope")) == "E-ENV-001"


def test_the_demo_dataset_has_one_app_per_institution(db):
    with db.read() as conn:
        for code, *_rest in INSTITUTIONS:
            assert mpc_apps.of_institution(conn, code) == [demo_mpc_app(code)]
            assert mpc_apps.find(conn, demo_mpc_app(code).app_id) == demo_mpc_app(code)
        assert mpc_apps.find(conn, "0" * 32) is None


# -------------------------------------------------- the centre with a table of its own


def centre_with(db, clock, handler) -> mpc.MobilePayCentre:
    """The routes' work with a one-transaction table (6301 -> ``handler``)."""
    return mpc.MobilePayCentre(
        db, (), clock=clock, ids=Ids(clock), unix_clock=lambda: unix_of(clock.now),
        transactions={"6301": Transaction("6301", "test", handler, writes=False)},
        private_key=mpc.DEMO_PRIVATE_KEY)


def body_of(hospital: MpcHospital, data: dict, clock) -> bytes:
    return env_mod.dumps(hospital.envelope(data, china_stamp(clock.now))).encode()


def test_the_handler_gets_a_mobile_pay_call_and_its_data_is_sealed(db, clock, mpc_http):
    calls = []

    def handler(call, fields):
        calls.append(call)
        return Answer({"data": {"payOrdId": fields.node["data"]["payOrdId"],
                                "ordStas": "1", "feeSumamt": "12.50", "empty": ""}})

    hospital = MpcHospital(mpc_http, "H11010500002")
    centre = centre_with(db, clock, handler)
    answer = centre.handle("6301", body_of(hospital, ORDER_QUERY, clock))
    assert answer["code"] == 0 and answer["message"] == "success"
    assert hospital.opened(answer) == {"payOrdId": ORDER_QUERY["payOrdId"], "ordStas": "1",
                                       "feeSumamt": "12.50"}
    (call,) = calls
    assert call.entry is Entry.MOBILE_PAY and call.infno == "6301"
    assert call.actor.kind is ActorKind.INSTITUTION and call.actor.name == "H11010500002"
    assert call.site is not None and call.site.code == "H11010500002"
    assert call.ref.startswith(mpc.REF_PREFIX) and call.now == clock.now


def test_a_handlers_refusal_is_sealed_and_its_request_cannot_be_replayed(db, clock, mpc_http):
    def handler(call, fields):
        raise Refused("E-ORD-003", "settled")

    hospital = MpcHospital(mpc_http)
    centre = centre_with(db, clock, handler)
    body = body_of(hospital, ORDER_QUERY, clock)
    answer = centre.handle("6301", body)
    assert sealed_refusal(hospital, answer) == "E-ORD-003"
    assert answer["message"] == "E-ORD-003 the order's state does not allow this: settled"
    assert sealed_refusal(hospital, centre.handle("6301", body)) == "E-MPC-005"


def test_a_failing_handler_answers_a_sealed_internal_error(db, clock, mpc_http):
    def handler(call, fields):
        raise RuntimeError("bug")

    hospital = MpcHospital(mpc_http)
    answer = centre_with(db, clock, handler).handle("6301", body_of(hospital, {"a": "1"}, clock))
    assert sealed_refusal(hospital, answer) == "E-SYS-002"


# -------------------------------------------------- the centre's key at start


def test_serve_refuses_the_demo_centre_key_unless_demo(db, tmp_path, monkeypatch):
    import uvicorn

    from yibao.api.app import app_from_env

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    monkeypatch.delenv(face.DEMO_SWITCH, raising=False)
    monkeypatch.setenv("YIBAO_TEMPLATE_KEY", "cHJvZHVjdGlvbi1rZXktMzItYnl0ZXMtbG9uZyEhISE=")
    monkeypatch.delenv(mpc.PRIVATE_KEY_ENV, raising=False)
    url = str(tmp_path / "serve.db")
    monkeypatch.setenv("YIBAO_DATABASE_URL", url)
    run = CliRunner().invoke(cli.app, ["serve", "--db", url])
    assert run.exit_code == 2 and mpc.PRIVATE_KEY_ENV in run.output and started == []
    with pytest.raises(RuntimeError, match=mpc.PRIVATE_KEY_ENV):
        app_from_env()
    monkeypatch.setenv(mpc.PRIVATE_KEY_ENV, mpc.DEMO_PRIVATE_KEY)  # named: the same
    assert CliRunner().invoke(cli.app, ["serve", "--db", url]).exit_code == 2
    assert CliRunner().invoke(cli.app, ["serve", "--db", url, "--demo"]).exit_code == 0
    monkeypatch.setenv(mpc.PRIVATE_KEY_ENV, "c2hvcnQ=")  # not a key: refused even in a demo
    assert CliRunner().invoke(cli.app, ["serve", "--db", url, "--demo"]).exit_code == 2
    monkeypatch.setenv(mpc.PRIVATE_KEY_ENV, codec.new_key_pair().private_key)
    assert CliRunner().invoke(cli.app, ["serve", "--db", url]).exit_code == 0
    assert app_from_env().title
    assert len(started) == 2


# -------------------------------------------------- the vendors' worked example


def documented_example() -> dict:
    """The Python example of docs/online-payment-transport.md, run as written."""
    text = (ROOT / "docs" / "online-payment-transport.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n(.*?)```", text, re.S)
    assert found is not None
    namespace: dict = {}
    exec(compile(found.group(1), "online-payment-transport.md", "exec"), namespace)
    return namespace


def test_the_documented_example_talks_to_the_centre(hospital, clock, http):
    example = documented_example()
    app = demo_mpc_app("H11010500001")
    assert (example["APP_ID"], example["APP_SECRET"]) == (app.app_id, app.app_secret)
    assert example["PRIVATE_KEY"] == hospital.private_key
    assert example["CENTRE_PUBLIC_KEY"] == mpc.DEMO_PUBLIC_KEY
    body = example["seal_request"](ORDER_QUERY, app.app_id, app.app_secret,
                                   hospital.private_key, now=clock.now.replace(tzinfo=CHINA))
    answer = hospital.post("query_order_info", body)
    code, message, data = example["open_answer"](answer, app.app_id, app.app_secret,
                                                 mpc.DEMO_PUBLIC_KEY)
    assert (code, data) == (-1, {}) and CODE.match(message).group(1) in UNKNOWN_ORDER_CODES
    assert hospital.opened(answer) == {}  # the example and the codec agree
    # as written, on the machine's clock (the application of the ``http`` fixture)
    code, message, data = example["query_order"](
        lambda path, sent: http.post(path, json=sent).json(), "ORD1", "T1",
        "110105198503150027", "王芳")
    assert code == -1 and CODE.match(message).group(1) in UNKNOWN_ORDER_CODES
    with pytest.raises(ValueError, match="E-MPC-001"):
        example["open_answer"](hospital.post("query_order_info", {**body, "appId": "X" * 32}),
                               app.app_id, app.app_secret, mpc.DEMO_PUBLIC_KEY)
