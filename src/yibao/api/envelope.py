"""The national message envelope: parsing the request, building the answer.

Answers are always HTTP 200 with ``infcode`` 0 (success) or -1 (refused); ``err_msg``
starts with a code from the error catalogue.

No amount passes through ``float`` here: JSON numbers with a fraction or an exponent are
read as ``Decimal`` (``loads``) and a ``Decimal`` is written as a JSON number of its
exact digits (``dumps``, domain/money.py ``json_number``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from yibao.api.fields import Fields, is_absent
from yibao.domain.errors import Refused
from yibao.domain.money import json_number

# The limits of every route family (docs/interface.md, docs/security.md): the national
# route here, the REST families at the edge (api/limits.py, api/rest.py).
BODY_BYTES_MAX = 4 * 1024 * 1024
JSON_DEPTH_MAX = 16
STRING_LENGTH_MAX = 1_400_000  # the longest text any field takes: a face image, base64
MSGID_LENGTH = 30


@dataclass(frozen=True, slots=True)
class Envelope:
    infno: str
    msgid: str
    fixmedins_code: str
    mdtrtarea_admvs: str
    insuplc_admdvs: str
    opter: str
    opter_name: str
    opter_type: str
    sign_no: str
    inf_time: datetime | None
    input: Any
    body_hash: str


# the charsets a body may be declared in (Content-Type's charset), and the codec read:
# GBK and GB2312 bodies are read as GB18030, which encodes every GBK character alike
CHARSETS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "us-ascii": "utf-8-sig",
            "ascii": "utf-8-sig", "gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030",
            "x-gbk": "gb18030", "gb18030": "gb18030"}
CHARSET_SHOWN_MAX = 20


def parse_body(body: bytes, content_type: str = "") -> dict[str, Any]:
    """The envelope's JSON object from the body's bytes, decoded in the charset
    ``content_type`` declares, else UTF-8 or (when the body is not UTF-8) GB18030. The size
    limit counts the bytes as sent."""
    if len(body) > BODY_BYTES_MAX:
        raise Refused("E-ENV-006", f"body larger than {BODY_BYTES_MAX} bytes")
    text = decode_body(body, declared_charset(content_type))
    try:
        data = loads(text)
    except RecursionError as exc:
        raise Refused("E-ENV-006", f"nesting deeper than {JSON_DEPTH_MAX}") from exc
    except json.JSONDecodeError as exc:
        raise Refused("E-ENV-001", f"{exc.msg} at line {exc.lineno} column {exc.colno} "
                      f"(char {exc.pos})") from exc
    except ValueError as exc:  # an integer of more than 4300 digits
        raise Refused("E-ENV-001", str(exc)[:80]) from exc
    if not isinstance(data, dict):
        raise Refused("E-ENV-001", "the body must be a JSON object")
    deepest, longest = measure(data)
    if deepest > JSON_DEPTH_MAX:
        raise Refused("E-ENV-006", f"nesting deeper than {JSON_DEPTH_MAX}")
    if longest > STRING_LENGTH_MAX:
        raise Refused("E-ENV-006", f"a string longer than {STRING_LENGTH_MAX} characters")
    return data


def declared_charset(content_type: str) -> str | None:
    """The charset a Content-Type header declares (lower case, unquoted), or None."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip().lower() or None
    return None


def decode_body(body: bytes, charset: str | None) -> str:
    """The body's text: in the declared charset (one of CHARSETS), or undeclared in UTF-8,
    else GB18030. Refused (E-ENV-001) naming the charset and the first bad byte."""
    if charset is not None:
        codec = CHARSETS.get(charset)
        if codec is None:
            shown = "".join(c for c in charset if c.isascii() and c.isprintable())
            raise Refused("E-ENV-001", f"charset {shown[:CHARSET_SHOWN_MAX]} is not accepted "
                          "(UTF-8, GBK, GB2312 or GB18030)")
        try:
            return body.decode(codec)
        except UnicodeDecodeError as exc:
            raise Refused("E-ENV-001", f"not {charset} as declared: {_bad_byte(exc)}") from exc
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        not_utf8 = _bad_byte(exc)
    try:
        return body.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise Refused("E-ENV-001", f"neither UTF-8 ({not_utf8}) nor GB18030 "
                      f"({_bad_byte(exc)})") from exc


def _bad_byte(exc: UnicodeDecodeError) -> str:
    return f"byte 0x{exc.object[exc.start]:02x} at {exc.start}"


def loads(text: str | bytes) -> Any:
    """JSON as the interface reads it: a number with a fraction or an exponent becomes an
    exact ``Decimal`` (``0.3`` is 0.3, ``100.005`` keeps its third decimal), never a float.
    (The non-numbers ``NaN`` and ``Infinity`` stay Python's; no reader accepts them.)"""
    return json.loads(text, parse_float=Decimal)


# A Decimal is written as a string between two marks, then the marks (and the string's
# quotes) are cut out: the standard encoder has no hook for raw numbers. The marks hold a
# NUL (written \u0000) and a secret of this process, so no text in a message can pass
# for one; two plain replacements keep it as fast as writing floats was.
_SECRET = secrets.token_hex(8)
_OPEN, _CLOSE = f"\x00{_SECRET}(", f")\x00{_SECRET}"
_OPENED, _CLOSED = (json.dumps(_OPEN)[:-1], json.dumps(_CLOSE)[1:])


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """JSON text of a message whose numbers may be ``Decimal`` (written exactly) and whose
    times are ``datetime`` (written ``yyyy-MM-dd HH:mm:ss``)."""
    marked = False

    def default(item: Any) -> Any:
        nonlocal marked
        if isinstance(item, Decimal):
            marked = True
            return _OPEN + json_number(item) + _CLOSE
        if isinstance(item, datetime):
            return item.strftime("%Y-%m-%d %H:%M:%S")
        return str(item)

    text = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, default=default)
    return text.replace(_OPENED, "").replace(_CLOSED, "") if marked else text


def depth(value: Any, level: int = 0) -> int:
    """The nesting depth of a JSON value (an object or array holding no container: 1),
    counted no further than one past JSON_DEPTH_MAX."""
    if level > JSON_DEPTH_MAX:
        return level
    if isinstance(value, dict):
        return max((depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((depth(v, level + 1) for v in value), default=level + 1)
    return level


def measure(value: Any, level: int = 0) -> tuple[int, int]:
    """``depth`` and the length of the longest string (key or value) of a JSON value in
    one walk (the walk stops one level past JSON_DEPTH_MAX: the length is then not
    needed)."""
    if isinstance(value, str):
        return level, len(value)
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return level, 0
    if level >= JSON_DEPTH_MAX:
        return level + 1, 0
    deepest, longest = level + 1, 0
    for key, item in items:
        if type(key) is str and len(key) > longest:
            longest = len(key)
        if isinstance(item, (dict, list)):
            d, n = measure(item, level + 1)
            if d > deepest:
                deepest = d
        elif isinstance(item, str):
            n = len(item)
        else:
            continue
        if n > longest:
            longest = n
    return deepest, longest


def read_envelope(data: dict[str, Any]) -> Envelope:
    head = Fields(data, where="envelope")
    try:
        infno = head.text("infno", max_len=6)
        msgid = head.text("msgid", max_len=MSGID_LENGTH)
        code = head.text("fixmedins_code", max_len=30)
    except Refused as exc:
        raise Refused("E-ENV-002", exc.detail) from exc
    payload = data.get("input")
    if is_absent(payload):
        payload = {}
    if not isinstance(payload, dict):
        raise Refused("E-ENV-002", "input must be an object")
    return Envelope(
        infno=infno, msgid=msgid, fixmedins_code=code,
        mdtrtarea_admvs=head.text("mdtrtarea_admvs", required=False, max_len=6),
        insuplc_admdvs=head.text("insuplc_admdvs", required=False, max_len=6),
        opter=head.text("opter", required=False, max_len=30),
        opter_name=head.text("opter_name", required=False, max_len=50),
        opter_type=head.text("opter_type", required=False, max_len=3),
        sign_no=head.text("sign_no", required=False, max_len=30),
        inf_time=_lenient_time(head),
        input=payload,
        body_hash=body_hash(infno, payload),
    )


def _lenient_time(head: Fields) -> datetime | None:
    try:
        return head.moment("inf_time", required=False)
    except Refused:
        return None


def body_hash(infno: str, payload: Any) -> str:
    """What makes two messages 'the same body': the transaction and its input."""
    canonical = dumps([infno, payload], sort_keys=True)
    try:
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    except UnicodeEncodeError as exc:  # a lone surrogate (\ud800) is not text
        raise Refused("E-ENV-001", "a string contains an unpaired surrogate") from exc


def check_msgid(msgid: str) -> None:
    """msgid is the sender's message id: 1..30 ASCII letters and digits.

    The standard recommends fixmedins_code + yyyyMMddHHmmss + a serial (30 characters),
    but real HIS send shorter ones (the spec's own samples have 29), so only the
    character set and the length limit are enforced.
    """
    if not (1 <= len(msgid) <= MSGID_LENGTH and msgid.isascii() and msgid.isalnum()):
        raise Refused("E-MSG-001", f"msgid must be 1..{MSGID_LENGTH} ASCII letters or digits")


def answer(
    *, infcode: int, refmsgid: str, now: datetime, output: Any = None, err_msg: str = "",
    warn_msg: str = "",
) -> dict[str, Any]:
    return {
        "infcode": infcode,
        "inf_refmsgid": refmsgid,
        "refmsg_time": now.strftime("%Y%m%d%H%M%S%f")[:17],
        "respond_time": now.strftime("%Y%m%d%H%M%S%f")[:17],
        "err_msg": err_msg,
        "warn_msg": warn_msg,
        "cainfo": "",
        "signtype": "",
        "output": output if output is not None else {},
    }


class Rendered(dict[str, Any]):
    """An answer and its JSON text, written once: the text stored with the change is the
    text sent (``to_json``). Not to be changed once made."""

    __slots__ = ("text",)

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(answer)
        self.text = dumps(answer)


def to_json(message: dict[str, Any]) -> str:
    return message.text if type(message) is Rendered else dumps(message)
