"""The AK/SK gateway scheme's rules (the provincial edition's 服务网关调用说明): the string
a request signs, its signature, and what an operator may set as a key.

A request carries ``_api_name``, ``_api_version``, ``_api_timestamp`` (13-digit unix
milliseconds), ``_api_access_key`` (AK) and ``_api_signature``: base64 of HmacSHA1 with
the secret key (SK) over the UTF-8 bytes of ``key=value`` of the other four headers,
keys in natural (code point) order, joined by ``&``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
from collections.abc import Mapping

NAME = "_api_name"
VERSION = "_api_version"
TIMESTAMP = "_api_timestamp"
ACCESS_KEY = "_api_access_key"
SIGNATURE = "_api_signature"
HEADERS = (NAME, VERSION, TIMESTAMP, ACCESS_KEY, SIGNATURE)  # the order a refusal names them
SIGNED = tuple(sorted((NAME, VERSION, TIMESTAMP, ACCESS_KEY)))  # natural order
# the standard's lengths (表 5); the timestamp is 13 digits
HEADER_LENGTH_MAX = {NAME: 100, VERSION: 100, TIMESTAMP: 13, ACCESS_KEY: 100, SIGNATURE: 300}
WINDOW_MS = 30 * 60 * 1000  # the timestamp against the gateway's clock, either side

ACCESS_KEY_CHARS = frozenset(string.ascii_letters + string.digits + "._-")
ACCESS_KEY_LENGTH_MAX = 100
SECRET_LENGTH_MIN = 16
SECRET_LENGTH_MAX = 128
GRACE_SECONDS_MAX = 7 * 24 * 3600  # a rotated pair works at most a week longer


def string_to_sign(headers: Mapping[str, str]) -> bytes:
    """``_api_access_key=..&_api_name=..&_api_timestamp=..&_api_version=..`` as bytes.
    A header value arrives as Latin-1 text of the bytes sent (ASGI): those bytes are
    signed, so a client that signed UTF-8 text verifies."""
    return b"&".join(key.encode() + b"=" + _sent_bytes(headers[key]) for key in SIGNED)


def signature(secret_key: str, headers: Mapping[str, str]) -> str:
    """base64(HmacSHA1(SK, string_to_sign)) of the headers (the signature left out)."""
    digest = hmac.new(secret_key.encode(), string_to_sign(headers), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def milliseconds(text: str) -> int | None:
    """An ``_api_timestamp``'s unix milliseconds, or None when it is not 1..13 ASCII
    digits (bounded before ``int``)."""
    if not 1 <= len(text) <= HEADER_LENGTH_MAX[TIMESTAMP]:
        return None
    if not all("0" <= c <= "9" for c in text):
        return None
    return int(text)


def access_key_problem(access_key: str) -> str:
    """Why ``access_key`` cannot be issued ("" when it can): 1..100 letters, digits, '.',
    '_' or '-' (no '&' or '=', which would blur the signed string)."""
    if not 1 <= len(access_key) <= ACCESS_KEY_LENGTH_MAX:
        return f"access_key must be 1..{ACCESS_KEY_LENGTH_MAX} characters"
    if not set(access_key) <= ACCESS_KEY_CHARS:
        return "access_key may hold letters, digits, '.', '_' and '-' only"
    return ""


def secret_problem(secret: str, *, what: str = "secret_key") -> str:
    """Why ``secret`` cannot be a gateway secret ("" when it can): 16..128 printable
    ASCII characters without spaces."""
    if not SECRET_LENGTH_MIN <= len(secret) <= SECRET_LENGTH_MAX:
        return f"{what} must be {SECRET_LENGTH_MIN}..{SECRET_LENGTH_MAX} characters"
    if not all("!" <= c <= "~" for c in secret):
        return f"{what} may hold printable ASCII characters only (no spaces)"
    return ""


def grace_problem(grace_seconds: int) -> str:
    if not 0 <= grace_seconds <= GRACE_SECONDS_MAX:
        return f"grace must be 0..{GRACE_SECONDS_MAX} seconds (7 days)"
    return ""


def _sent_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # text that did not come off the wire (a direct call)
        return value.encode("utf-8")
