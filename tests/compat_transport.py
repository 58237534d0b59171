"""Replays published HIS clients' request shapes (tests/compat/*.json, one profile per
client; docs/his-compat.md says which) against yibao over HTTP: the URL form, the
gateway scheme and header names, the envelope's fields and quirks, the JSON layout and
character set, and the way the client reads the answer. Written for the compatibility
suite (tests/test_client_compat.py); deliberately independent of yibao.client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).resolve().parent / "compat"


def profiles() -> dict[str, dict[str, Any]]:
    """Every client profile, by name."""
    found = {}
    for path in sorted(PROFILE_DIR.glob("*.json")):
        profile = json.loads(path.read_text(encoding="utf-8"))
        found[profile["name"]] = profile
    return found


class ClientCrash(AssertionError):
    """What the real client would do with this answer: throw instead of reading it."""


def encode(value: Any, *, indent: int | None, newline: str, item: str, key: str,
           level: int = 0) -> str:
    """JSON as the client's serializer writes it: ``Decimal`` as a bare number spelled as
    it is (``1.0``, ``12.50``), ``None`` as null, non-ASCII unescaped, keys in the given
    order, optionally indented with the client's line ends."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):
        items = ([f"{json.dumps(k, ensure_ascii=False)}{key}" for k in value]
                 if isinstance(value, dict) else [""] * len(value))
        values = list(value.values()) if isinstance(value, dict) else value
        if not values:
            return "{}" if isinstance(value, dict) else "[]"
        parts = [p + encode(v, indent=indent, newline=newline, item=item, key=key,
                            level=level + 1) for p, v in zip(items, values, strict=True)]
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        if indent is None:
            return opening + item.join(parts) + closing
        pad, inner = " " * indent * level, " " * indent * (level + 1)
        joined = ("," + newline).join(inner + p for p in parts)
        return f"{opening}{newline}{joined}{newline}{pad}{closing}"
    raise TypeError(f"cannot encode {type(value).__name__}")


def amount(profile: dict[str, Any], infno: str, text: str) -> Any:
    """An amount, count or price as this client writes it in ``infno``: a string, or a
    bare JSON number as .NET writes a ``decimal`` (always with a fraction)."""
    styles = profile["input"]["amounts"]
    style = styles.get(infno, styles["default"])
    if style == "string":
        return text
    number = Decimal(text)
    return number if number.as_tuple().exponent < 0 else number.quantize(Decimal("0.0"))


def read_infcode(profile: dict[str, Any], answer: dict[str, Any]) -> bool:
    """Whether the client takes the answer as a success, reading ``infcode`` its way."""
    if "infcode" not in answer or "err_msg" not in answer:
        raise ClientCrash(f"no infcode/err_msg in the answer: {answer}")
    value = answer["infcode"]
    how = profile["answer"]["infcode"]
    if how == "python_equals_zero":  # answer['infcode'] == 0
        return bool(value == 0)
    if how == "newtonsoft_int":  # BaseResp<T>.infcode is an int
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ClientCrash(f"infcode {value!r} does not convert to Int32")
        try:
            return int(value) == 0
        except ValueError as exc:
            raise ClientCrash(f"infcode {value!r} does not convert to Int32") from exc
    if how == "newtonsoft_string":  # OutputReturn.infcode is a string compared to "0"
        return str(value) == "0"
    raise AssertionError(f"unknown infcode reading {how}")


def standard_time(text: object) -> datetime:
    """A date-time the client stores: it must be the standard's yyyy-MM-dd HH:mm:ss."""
    if not isinstance(text, str):
        raise ClientCrash(f"date-time {text!r} is not text")
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise ClientCrash(f"date-time {text!r} is not yyyy-MM-dd HH:mm:ss") from exc


@dataclass
class ProfileClient:
    """One institution's HIS speaking exactly as the profile's client does."""

    profile: dict[str, Any]
    http: Any  # starlette TestClient or httpx.Client
    code: str
    secret: str
    area: str = "110000"
    now: datetime = field(default_factory=datetime.now)
    sign_no: str | None = None
    insuplc: str | None = None
    sent: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sign_no = self.profile["sign_in"]["sign_no_before"]
        if self.profile["envelope"]["insuplc_before_1101"] == "area":
            self.insuplc = self.area
        self.rng = random.Random(f"{self.profile['name']}-{self.code}")

    # --- request shape -----------------------------------------------------------
    def url(self, infno: str) -> str:
        form = self.profile["url"]
        if form["form"] == "infno_appended":
            return f"{form['base']}{infno}"
        if form["form"] == "per_service":
            return str(form["paths"][infno])
        return str(form["base"])

    def msgid(self) -> str:
        serial = {
            "random4": lambda: "".join(self.rng.choice(string.digits) for _ in range(4)),
            "random1000_9999": lambda: str(self.rng.randint(1000, 9998)),
            "random1_9999_pad4": lambda: str(self.rng.randint(1, 9998)).rjust(4, "0"),
        }[self.profile["envelope"]["msgid_serial"]]()
        return f"{self.code}{self.now:%Y%m%d%H%M%S}{serial}"

    def envelope(self, infno: str, payload: dict[str, Any]) -> dict[str, Any]:
        spec = self.profile["envelope"]
        values: dict[str, Any] = {
            **spec["fixed"], "infno": infno, "msgid": self.msgid(),
            "mdtrtarea_admvs": self.area, "insuplc_admdvs": self.insuplc,
            "inf_time": self.now.strftime(spec["inf_time"]), "fixmedins_code": self.code,
            "sign_no": self.sign_no, "input": payload,
        }
        if infno in ("2207", "2304") and self.profile["settlement_cainfo"] == "rsa_blob":
            # an RSA-encrypted card password: opaque base64 text of a 1024-bit block
            values["cainfo"] = base64.b64encode(self.rng.randbytes(128)).decode()
        return {name: values[name] for name in spec["order"]}

    def auth_headers(self, infno: str) -> dict[str, str]:
        auth = self.profile["auth"]
        if auth["scheme"] == "x-tif":
            timestamp = str(int(time.time()))
            nonce = (str(uuid.uuid4()) if auth["nonce"] == "guid" else "".join(
                self.rng.choice(string.ascii_letters + string.digits) for _ in range(32)))
            digest = hashlib.sha256(f"{timestamp}{self.secret}{nonce}{timestamp}".encode())
            return {"x-tif-paasid": self.code, "x-tif-signature": digest.hexdigest(),
                    "x-tif-timestamp": timestamp, "x-tif-nonce": nonce}
        if auth["scheme"] == "ak-sk":
            signed = {"_api_access_key": self.code, "_api_name": infno,
                      "_api_timestamp": str(round(time.time() * 1000)),
                      "_api_version": auth["api_version"]}
            text = "&".join(f"{k}={v}" for k, v in sorted(signed.items()))
            mac = hmac.new(self.secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1)
            return {**signed, "_api_signature": base64.b64encode(mac.digest()).decode()}
        raise AssertionError(f"unknown gateway scheme {auth['scheme']}")

    def body(self, infno: str, message: dict[str, Any]) -> bytes:
        layout = self.profile["body"]
        text = encode(message, indent=layout["indent"], newline=layout["newline"],
                      item=layout["item_separator"], key=layout["key_separator"])
        helper = self.profile["raw_helper"]
        charset = helper["charset"] if infno in helper["infnos"] else layout["charset"]
        return text.encode(charset)

    # --- one call ----------------------------------------------------------------
    def send(self, infno: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST the message as the client does; the answer as the client parses it."""
        message = self.envelope(infno, payload)
        headers = {**self.profile["headers"], **self.auth_headers(infno)}
        body = self.body(infno, message)
        url = self.url(infno)
        self.sent.append((url, headers, body))
        reply = self.http.post(url, content=body, headers=headers)
        content_type = reply.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            raise ClientCrash(f"{url} answered HTTP {reply.status_code} {content_type}")
        if "charset=" in content_type:
            assert content_type.split("charset=")[1].lower() == "utf-8", content_type
        try:
            answer: dict[str, Any] = json.loads(reply.content.decode("utf-8"))
        except ValueError as exc:
            raise ClientCrash(f"{url} answered no JSON: {reply.content[:200]!r}") from exc
        if not isinstance(answer, dict):
            raise ClientCrash(f"{url} answered {answer!r}")
        read_infcode(self.profile, answer)  # every answer must be readable
        return answer

    def ok(self, infno: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A call the client expects to succeed: its ``output``."""
        answer = self.send(infno, payload)
        assert read_infcode(self.profile, answer), f"{infno}: {answer['err_msg']}"
        output: dict[str, Any] = answer["output"]
        return output

    def sign_in(self) -> None:
        if not self.profile["sign_in"]["sends_9001"]:
            return
        out = self.ok("9001", {"signIn": {"opter_no": self.profile["envelope"]["fixed"]["opter"],
                                          "mac": "00-15-5D-01-02-03", "ip": "10.0.0.8"}})
        signed = out["signinoutb"]
        standard_time(signed["sign_time"])
        assert isinstance(signed["sign_no"], str) and signed["sign_no"]
        self.sign_no = signed["sign_no"]
