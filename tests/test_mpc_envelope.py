"""The mobile-payment centre's envelope codec (api/mpc_envelope.py) against the known-answer
vectors of shared/reference/mobile-payment-transport.md (a callback recorded from a test
platform, published test credentials), round trips with fresh keys, tampering, and the
traps of gmssl the wrapper avoids. No database."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
from datetime import datetime
from decimal import Decimal

import pytest
from gmssl import sm2, sm4

from yibao import sm2 as yb_sm2
from yibao.api import mpc
from yibao.api import mpc_envelope as m
from yibao.domain.errors import Refused
from yibao.store import demo

# the recorded payment-success callback of a test platform (public test credentials)
RECORDED_APP_ID = "8680E5AB99D74DBE96F8CAC5CEFAC232"
RECORDED_SECRET = "F75E27032F5541A7943C2A7F2615F80A"
RECORDED_PLATFORM_KEY = ("BPAX8QWe3+2rw/1UnYynjWcNrRV+elFLsLrRX7sPtOFsXu9ItEr6rXo+vGxMd5LYIFTTb"
                         "jFU3nPHaLt21Msgwtc=")
RECORDED_DATA_TEXT = (
    '{"traceId":"78968599c79b4419beebccef77d022ae","amount":"0.00","payType":"PSNACCT",'
    '"psnAcctPayAmt":"0.01","psnAcctMerchantId":"102053180622009",'
    '"outTradeNo":"OORD350100202208231519582000000067","tradeStatus":"SUCCESS",'
    '"amtMerchantId":"","payOrdId":"ORD350100202208231519582000000067",'
    '"queryId":"MP0000000000034698"}')
RECORDED_SIGN = ("YrIrYKeCYzPZzdCDrzP2EEJiAOE12Z61CXjDPyRXluNiIHeNWUKHlAOUgVA/g99g+pW+o+BXJkBOt"
                 "la9tcju3A==")
RECORDED_ENC = (
    "3aa85bd8d36e4e389d7c67d0d676ffc41eef8bc7b92195826b7fb8dcd89eb8495319df47daacf835245255"
    "0670db353eda40c17c50292efefc01c00c1206cc9c89a92a7c8ca4a41325b0a1cd0348d4d54e053ec0a8bf"
    "c45cfd2cb2214d3e6c10d9fcc31f952a9c255f0d519d78bb15c2ab5c8be4b4b27c777411b24f3b5ce56f48"
    "46ea7814f088968a9117d20af7be5e42b87280c7577c3bf775b41a1406090507cf7f03f326a8b5d373c66c"
    "b280e17c6f1fd62921568c668b8c972d79347bd835059885af17031c76400b26443307e49a07a06049f8db"
    "408070c6709080c98998dd37c0a49147c7b028d879cbd07fe5ce2fdb6b2b052ade65a8db72d144f4e3de14"
    "c017ba5eda03b286611ce1acccc3e9d8d784cf40258c50b4cced1e42cec726b19327c93861d4b8ac13136e"
    "245f89c7bbb627b2dd32f7f411bb2db0cbe6f3")
RECORDED_ENVELOPE = {"appId": RECORDED_APP_ID, "version": "2.0.1",
                     "timestamp": "1661239946874", "encType": "SM4", "signType": "SM2",
                     "encData": RECORDED_ENC, "signData": RECORDED_SIGN}
RECORDED_APP = m.App(RECORDED_APP_ID, RECORDED_SECRET, RECORDED_PLATFORM_KEY, "H00000000000")
NOW = datetime(2026, 5, 11, 9, 30, 0)


def recorded_data() -> dict:
    return json.loads(RECORDED_DATA_TEXT)


def test_key_derivation_matches_the_published_vector():
    key = m.derive_key("43AF047BBA47FC8A1AE8EFB232BDBBCB", "4117E877F5FA0A0188891283E4B617D5")
    assert key == bytes.fromhex("38363342354634304337304237314541") == b"863B5F40C70B71EA"


def test_the_recorded_callback_verifies_over_the_cleaned_sign_string_only():
    data = recorded_data()
    cleaned = m.sign_string(RECORDED_ENVELOPE, data, RECORDED_SECRET)
    assert "amtMerchantId" not in cleaned and cleaned.endswith(f"&key={RECORDED_SECRET}")
    assert cleaned.startswith("appId=8680E5AB99D74DBE96F8CAC5CEFAC232&data={\"amount\":\"0.00\"")
    assert m.verify(cleaned, RECORDED_SIGN, RECORDED_PLATFORM_KEY)
    # the same string with the empty field kept (data not cleaned) does not verify
    uncleaned = cleaned.replace('{"amount":"0.00",', '{"amount":"0.00","amtMerchantId":"",')
    assert uncleaned != cleaned
    assert not m.verify(uncleaned, RECORDED_SIGN, RECORDED_PLATFORM_KEY)


def test_the_recorded_enc_data_decrypts_to_the_data():
    key = m.derive_key(RECORDED_APP_ID, RECORDED_SECRET)
    assert m.decrypt(RECORDED_ENC, key) == recorded_data()
    assert m.decrypt(RECORDED_ENC.upper(), key) == recorded_data()  # either case of hex


def test_a_hospital_opens_the_recorded_callback_with_the_platform_key():
    assert m.open_answer(RECORDED_ENVELOPE, RECORDED_APP, RECORDED_PLATFORM_KEY) == (
        recorded_data())
    other = m.new_key_pair().public_key
    with pytest.raises(Refused) as refused:
        m.open_answer(RECORDED_ENVELOPE, RECORDED_APP, other)
    assert refused.value.code == "E-MPC-002"


@pytest.mark.parametrize("field, value", [
    ("timestamp", "1661239946875"), ("version", "2.0.2"), ("appId", RECORDED_APP_ID.lower()),
    ("signType", "SM2 "), ("code", 0),
])
def test_any_tampered_signed_field_fails_verification(field, value):
    tampered = {**RECORDED_ENVELOPE, field: value}
    text = m.sign_string(tampered, recorded_data(), RECORDED_SECRET)
    assert not m.verify(text, RECORDED_SIGN, RECORDED_PLATFORM_KEY)


def test_tampered_data_or_signature_fails_verification():
    data = {**recorded_data(), "psnAcctPayAmt": "0.02"}
    assert not m.verify(m.sign_string(RECORDED_ENVELOPE, data, RECORDED_SECRET),
                        RECORDED_SIGN, RECORDED_PLATFORM_KEY)
    text = m.sign_string(RECORDED_ENVELOPE, recorded_data(), RECORDED_SECRET)
    raw = bytearray(base64.b64decode(RECORDED_SIGN))
    raw[40] ^= 1
    assert not m.verify(text, base64.b64encode(raw).decode(), RECORDED_PLATFORM_KEY)
    assert not m.verify(text + " ", RECORDED_SIGN, RECORDED_PLATFORM_KEY)
    assert not m.verify(text, RECORDED_SIGN, RECORDED_PLATFORM_KEY[:-4] + "AAA=")  # off-curve


@pytest.mark.parametrize("signature", [
    "", "not base64!", base64.b64encode(b"\x01" * 63).decode(),  # 63 bytes
    base64.b64encode(bytes(32) + b"\x01" * 32).decode(),  # r = 0
    base64.b64encode(b"\x01" * 32 + bytes.fromhex(sm2.default_ecc_table["n"])).decode(),  # s = n
])
def test_malformed_signatures_do_not_verify_and_do_not_raise(signature):
    text = m.sign_string(RECORDED_ENVELOPE, recorded_data(), RECORDED_SECRET)
    assert m.verify(text, signature, RECORDED_PLATFORM_KEY) is False


def test_a_public_key_with_or_without_the_04_prefix():
    text = m.sign_string(RECORDED_ENVELOPE, recorded_data(), RECORDED_SECRET)
    bare = base64.b64encode(base64.b64decode(RECORDED_PLATFORM_KEY)[1:]).decode()
    assert m.verify(text, RECORDED_SIGN, bare)
    assert not m.verify(text, RECORDED_SIGN, base64.b64encode(b"\x05" + base64.b64decode(
        bare)).decode())


def test_keys_whose_point_starts_with_0_or_4_digits_work_where_plain_gmssl_fails():
    """gmssl's constructor does ``public_key.lstrip("04")``: with the 04 prefix it eats the
    point's own leading 0 and 4 digits too. About one key in eight has one."""
    for _ in range(200):
        pair = m.new_key_pair()
        point = base64.b64decode(pair.public_key).hex()
        if point[2] in "04":
            break
    else:
        pytest.fail("no key whose x starts with a 0 or 4 digit in 200 draws")
    signature = m.sign("text", pair.private_key)
    assert m.verify("text", signature, pair.public_key)
    naive = sm2.CryptSM2(private_key="", public_key=point)  # what a plain call would do
    assert len(naive.public_key) < 128
    assert not _naive_verifies(naive, base64.b64decode(signature).hex(), b"text")


def _naive_verifies(signer: sm2.CryptSM2, signature: str, text: bytes) -> bool:
    try:
        return bool(signer.verify_with_sm3(signature, text))
    except (TypeError, ValueError):
        return False


def test_gmssl_hashes_the_default_user_id_into_z():
    assert yb_sm2.USER_ID.encode().hex() in inspect.getsource(sm2.CryptSM2._sm3_z)


def test_round_trip_with_fresh_keys():
    centre, institution = m.new_key_pair(), m.new_key_pair()
    app = m.App("0123456789ABCDEF0123456789ABCDEF", os.urandom(16).hex().upper(),
                institution.public_key, "H11010500001")
    data = {"payOrdId": "ORD1", "feeSumamt": Decimal("12.50"), "name": "王芳",
            "list": [{"a": 1, "b": ""}, {}], "flag": False, "empty": None}
    sealed = m.seal(data, app, centre.private_key, NOW, result=(0, "success"))
    assert sealed["timestamp"] == "20260511093000" and sealed["code"] == 0
    assert set(sealed) == {"appId", "encType", "signType", "version", "timestamp", "code",
                           "message", "encData", "signData"}
    assert sealed["encData"] == sealed["encData"].upper()
    opened = m.open_answer(json.loads(json.dumps(sealed)), app, centre.public_key)
    assert opened == {"payOrdId": "ORD1", "feeSumamt": Decimal("12.50"), "name": "王芳",
                      "list": [{"a": 1}], "flag": False}
    with pytest.raises(Refused) as refused:  # the institution's key did not seal it
        m.open_answer(sealed, app, institution.public_key)
    assert refused.value.code == "E-MPC-002"


def test_a_callback_is_sealed_without_a_result():
    centre, institution = m.new_key_pair(), m.new_key_pair()
    app = m.App("0123456789ABCDEF0123456789ABCDEF", "S" * 32, institution.public_key, "H1")
    sealed = m.seal({"payOrdId": "ORD1", "ordStas": "1"}, app, centre.private_key, NOW)
    assert "code" not in sealed and "message" not in sealed
    assert m.open_answer(sealed, app, centre.public_key) == {"payOrdId": "ORD1",
                                                             "ordStas": "1"}


def request_of(app: m.App, private_key: str, data: dict, timestamp: str) -> dict:
    envelope = {"appId": app.app_id, "encType": "SM4", "signType": "SM2",
                "version": "2.0.1", "timestamp": timestamp}
    text = m.sign_string(envelope, data, app.app_secret)
    key = m.derive_key(app.app_id, app.app_secret)
    return {**envelope, "encData": m.encrypt(m.clean(data), key),
            "signData": m.sign(text, private_key)}


NOW_UNIX = datetime(2026, 5, 11, 9, 30, 0, tzinfo=m.CHINA).timestamp()


def test_open_request_checks_timestamp_decryption_and_signature():
    institution = m.new_key_pair()
    app = m.App("0123456789ABCDEF0123456789ABCDEF", "S" * 32, institution.public_key, "H1")
    data = {"payOrdId": "ORD1", "payToken": "T", "diseCodg": ""}
    sent = request_of(app, institution.private_key, data, "20260511093000")
    assert m.open_request(sent, app, now_unix=NOW_UNIX) == {"payOrdId": "ORD1",
                                                           "payToken": "T"}
    assert m.open_request(sent, app, now_unix=NOW_UNIX + 300)
    for now_unix in (NOW_UNIX + 301, NOW_UNIX - 301):
        assert _code(lambda n=now_unix: m.open_request(sent, app, now_unix=n)) == "E-MPC-004"
    impostor = request_of(app, m.new_key_pair().private_key, data, "20260511093000")
    assert _code(lambda: m.open_request(impostor, app, now_unix=NOW_UNIX)) == "E-MPC-002"
    other = m.App(app.app_id, "T" * 32, app.public_key, "H1")  # another secret: another key
    assert _code(lambda: m.open_request(sent, other, now_unix=NOW_UNIX)) == "E-MPC-003"
    assert _code(lambda: m.open_request({**sent, "encData": "ABC"}, app,
                                        now_unix=NOW_UNIX)) == "E-MPC-003"
    assert _code(lambda: m.open_request({**sent, "signType": "RSA"}, app,
                                        now_unix=NOW_UNIX)) == "E-ENV-002"
    assert _code(lambda: m.open_request({**sent, "signData": 5}, app,
                                        now_unix=NOW_UNIX)) == "E-ENV-002"


def test_open_request_takes_epoch_milliseconds_as_text_or_number():
    institution = m.new_key_pair()
    app = m.App("0123456789ABCDEF0123456789ABCDEF", "S" * 32, institution.public_key, "H1")
    millis = int(NOW_UNIX * 1000) + 999
    for stamp in (str(millis), millis):
        envelope = {"appId": app.app_id, "encType": "SM4", "signType": "SM2",
                    "version": "2.0.1", "timestamp": stamp}
        text = m.sign_string(envelope, {"a": "1"}, app.app_secret)
        assert f"&timestamp={millis}&" in text
        sent = {**envelope, "encData": m.encrypt({"a": "1"}, m.derive_key(app.app_id,
                                                                           app.app_secret)),
                "signData": m.sign(text, institution.private_key)}
        assert m.open_request(sent, app, now_unix=NOW_UNIX) == {"a": "1"}


def _code(run) -> str:
    with pytest.raises(Refused) as refused:
        run()
    return refused.value.code


@pytest.mark.parametrize("value, expected", [
    ("20260511093000", NOW_UNIX), ("1778463000000", 1778463000), (1778463000123, 1778463000),
    ("202605110930", None), ("20261311093000", None), ("202605110930001", None),
    ("１７７８４６３０００００", None), (True, None), (None, None), (1.5, None), ("", None),
])
def test_sent_at_reads_china_time_or_epoch_milliseconds(value, expected):
    assert m.sent_at(value) == expected


def test_clean_drops_null_empty_text_and_empty_containers_at_every_depth():
    assert m.clean({"a": None, "b": "", "c": {}, "d": [], "e": False, "f": 0, "g": "0",
                    "h": {"x": "", "y": {"z": None}}, "i": [None, "", {}, [], "v", {"k": ""}],
                    "j": [{"k": "1", "l": ""}], "m": " "}) == {
        "e": False, "f": 0, "g": "0", "i": ["v"], "j": [{"k": "1"}], "m": " "}
    assert m.clean("") == "" and m.clean(None) is None and m.clean([]) == []


def test_the_sign_string_renders_objects_as_sorted_compact_json_with_chinese_unescaped():
    data = {"z": "1", "a": {"y": [2, {"b": "中文", "a": Decimal("0.10")}], "x": True}}
    text = m.sign_string({"version": "2.0.1", "appId": "A", "extra": {"q": 1},
                          "encData": "E", "signData": "S", "empty": ""}, data, "K")
    assert text == ('appId=A&data={"a":{"x":true,"y":[2,{"a":0.10,"b":"中文"}]},"z":"1"}'
                    "&version=2.0.1&key=K")


def test_sm4_agrees_with_gmssl_and_refuses_bad_padding():
    key = os.urandom(16)
    for size in (0, 1, 15, 16, 17, 100):
        plain = json.dumps("x" * size).encode()
        ours = m.encrypt("x" * size, key)
        theirs = sm4.CryptSM4()
        theirs.set_key(key, sm4.SM4_ENCRYPT)
        assert ours == theirs.crypt_ecb(plain).hex().upper()
    assert _code(lambda: m.decrypt(m.encrypt({"a": 1}, key), os.urandom(16))) == "E-MPC-003"
    assert _code(lambda: m.decrypt("0" * 31, key)) == "E-MPC-003"
    assert _code(lambda: m.decrypt("zz" * 16, key)) == "E-MPC-003"
    assert _code(lambda: m.decrypt(m.encrypt("not an object", key)[:-32], key)) == "E-MPC-003"


def test_the_demo_keys_are_pairs_and_follow_their_documented_rule():
    order = int(sm2.default_ecc_table["n"], 16)

    def rule(label: str) -> str:
        scalar = int(hashlib.sha256(label.encode()).hexdigest(), 16) % (order - 2) + 1
        return base64.b64encode(scalar.to_bytes(32, "big")).decode()

    for code, *_rest in demo.INSTITUTIONS:
        private, public = demo.MPC_KEYS[code]
        assert private == rule(f"yibao-demo-mpc-key:{code}") == demo.demo_mpc_private_key(code)
        assert m.key_pair(private).public_key == public == demo.demo_mpc_app(code).public_key
        app = demo.demo_mpc_app(code)
        assert len(app.app_id) == 32 and app.app_id == app.app_id.upper()
        assert app.app_id == hashlib.sha256(
            f"yibao-demo-mpc-app-id:{code}".encode()).hexdigest()[:32].upper()
    assert rule("yibao-demo-mpc-centre") == mpc.DEMO_PRIVATE_KEY
    assert m.key_pair(mpc.DEMO_PRIVATE_KEY).public_key == mpc.DEMO_PUBLIC_KEY


@pytest.mark.parametrize("private_key", ["", "AAAA", base64.b64encode(bytes(32)).decode(),
                                         base64.b64encode(b"\xff" * 32).decode()])
def test_a_private_key_must_be_32_bytes_in_range(private_key):
    with pytest.raises(ValueError):
        m.key_pair(private_key)
