"""Reading the business ``input`` of a national-interface message.

Real HIS messages send absent values as ``""``, ``"null"`` or ``"NULL"``, numbers as
strings or numbers, and times as ``yyyy-MM-dd HH:mm:ss``. Every reader here accepts
those and raises ``Refused`` (E-ENV-004 missing, E-ENV-005 bad format) naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from yibao.domain.errors import Refused
from yibao.domain.money import Fen, MoneyError, to_decimal, yuan_to_fen
from yibao.domain.text import china_time, is_digits

ABSENT = frozenset({"", "null", "NULL", "None", "none"})
TEXT_LENGTH_MAX = 1000
LIST_LENGTH_MAX = 1000
EXTENSION_LENGTH_MAX = 4000  # exp_content
COUNT_MAX = Decimal("1000000")
PRICE_MAX = Decimal("100000000")
PLACES_MAX = 6  # decimals of a count or a unit price
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


def too_many_places(number: Decimal) -> bool:
    """More than PLACES_MAX decimals as written (trailing zeros count: "1.0000000" is
    refused, so that what is stored is never longer than the column)."""
    exponent = number.as_tuple().exponent
    return isinstance(exponent, int) and exponent < -PLACES_MAX


def is_absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ABSENT)


class Fields:
    """Typed access to one input node (an object) with national field names."""

    def __init__(self, node: Any, *, where: str) -> None:
        if not isinstance(node, Mapping):
            raise Refused("E-ENV-005", f"{where} must be an object")
        self.node = node
        self.where = where

    def _raw(self, name: str, required: bool) -> Any:
        value = self.node.get(name)
        if is_absent(value):
            if required:
                raise Refused("E-ENV-004", f"{self.where}.{name}")
            return None
        return value

    def text(self, name: str, *, required: bool = True, max_len: int = 100) -> str:
        value = self._raw(name, required)
        if value is None:
            return ""
        if isinstance(value, (dict, list, bool)):
            raise Refused("E-ENV-005", f"{self.where}.{name} must be text")
        text = str(value).strip()
        if len(text) > min(max_len, TEXT_LENGTH_MAX):
            raise Refused("E-ENV-005", f"{self.where}.{name} longer than {max_len}")
        if CONTROL_CHARACTER.search(text):
            raise Refused("E-ENV-005", f"{self.where}.{name} contains control characters")
        return text

    def blob(self, name: str, *, max_len: int) -> str:
        """A long text such as a base64 photo: only its type and length are checked."""
        value = self._raw(name, True)
        if not isinstance(value, str):
            raise Refused("E-ENV-005", f"{self.where}.{name} must be text")
        if len(value) > max_len:
            raise Refused("E-ENV-005", f"{self.where}.{name} longer than {max_len}")
        return value

    def code(self, name: str, table: Mapping[str, str] | frozenset[str], *,
             required: bool = True) -> str:
        value = self.text(name, required=required, max_len=10)
        if value and value not in table:
            raise Refused("E-ENV-007", f"{self.where}.{name}={value[:10]}")
        return value

    def money(self, name: str, *, required: bool = True, negative: bool = False) -> Fen | None:
        value = self._raw(name, required)
        if value is None:
            return None
        try:
            return yuan_to_fen(value, field=f"{self.where}.{name}", allow_negative=negative)
        except MoneyError as exc:
            raise Refused("E-ENV-005", str(exc)) from exc

    def decimal(self, name: str, *, limit: Decimal, negative: bool = False) -> Decimal:
        value = self._raw(name, True)
        try:
            number = to_decimal(value, field=f"{self.where}.{name}")
        except MoneyError as exc:
            raise Refused("E-ENV-005", str(exc)) from exc
        if abs(number) > limit or (number < 0 and not negative):
            raise Refused("E-ENV-005", f"{self.where}.{name} out of range")
        if too_many_places(number):
            raise Refused("E-ENV-005", f"{self.where}.{name} has more than {PLACES_MAX} decimals")
        return number

    def digits(self, name: str, *, max_len: int, length: int = 0) -> str:
        """ASCII digits only (str.isdigit would pass '²', which int() refuses, and '٣')."""
        text = self.text(name, max_len=max_len)
        if not is_digits(text) or (length and len(text) != length):
            size = f"{length} " if length else ""
            raise Refused("E-ENV-005", f"{self.where}.{name} must be {size}digits 0-9")
        return text

    def whole(self, name: str, *, max_len: int = 10) -> int:
        """A whole number of at most ``max_len`` ASCII digits."""
        return int(self.digits(name, max_len=max_len))

    def moment(self, name: str, *, required: bool = True) -> datetime | None:
        """A time in China Standard Time, to the second: ``yyyy-MM-dd HH:mm:ss`` and the
        forms serialisers write (domain/text.py ``china_time``: ISO-8601 with ``T``,
        fractions dropped, offsets converted to +08:00)."""
        value = self._raw(name, required)
        if value is None:
            return None
        if isinstance(value, (dict, list, bool)):
            raise Refused("E-ENV-005", f"{self.where}.{name} must be a time as text")
        text = str(value).strip()
        if not text.isascii():  # Arabic-Indic or fullwidth digits are not a time
            raise Refused("E-ENV-005", f"{self.where}.{name} is not a time (ASCII digits)")
        moment = china_time(text)
        if moment is None:
            raise Refused("E-ENV-005", f"{self.where}.{name} is not a time "
                          f"(yyyy-MM-dd HH:mm:ss or ISO-8601): {text[:40]!r}")
        return moment

    def day(self, name: str, *, required: bool = True) -> date | None:
        moment = self.moment(name, required=required)
        return None if moment is None else moment.date()

    def flag(self, name: str, *, default: str = "0") -> str:
        value = self.text(name, required=False, max_len=1) or default
        if value not in ("0", "1"):
            raise Refused("E-ENV-005", f"{self.where}.{name} must be 0 or 1")
        return value

    def extension(self, name: str = "exp_content") -> Fields:
        """The extension field: a JSON object, sent as an object or as a string holding
        one (absent: empty)."""
        value = self._raw(name, False)
        if isinstance(value, str):
            if len(value) > EXTENSION_LENGTH_MAX:
                raise Refused("E-ENV-005", f"{self.where}.{name} longer than 4000")
            try:
                value = json.loads(value, parse_float=Decimal)  # as the envelope
            except ValueError as exc:
                raise Refused("E-ENV-005", f"{self.where}.{name} is not a JSON object") from exc
        return Fields({} if value is None else value, where=f"{self.where}.{name}")

    def node_of(self, name: str, *, required: bool = True) -> Fields | None:
        value = self._raw(name, required)
        return None if value is None else Fields(value, where=f"{self.where}.{name}")

    def child(self, name: str) -> Fields:
        """A required sub-object."""
        node = self.node_of(name)
        assert node is not None
        return node

    def list_of(self, name: str, *, required: bool = True) -> list[Fields]:
        value = self._raw(name, required)
        if value is None:
            return []
        if isinstance(value, Mapping):
            value = [value]  # some HIS send a single object where a list is expected
        if not isinstance(value, list):
            raise Refused("E-ENV-005", f"{self.where}.{name} must be a list")
        if len(value) > LIST_LENGTH_MAX:
            raise Refused("E-FEE-005", f"{self.where}.{name} has {len(value)} items")
        return [Fields(item, where=f"{self.where}.{name}[{i}]") for i, item in enumerate(value)]
