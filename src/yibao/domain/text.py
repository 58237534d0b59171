"""Rules for text that carries numbers (and times)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta


def is_digits(text: str) -> bool:
    """Only the ASCII digits 0-9, at least one. ``str.isdigit`` alone also passes '²',
    which ``int`` refuses, and Arabic-Indic or fullwidth digits, which ``int`` reads as
    a number the rest of the system would never compare equal to the ASCII one."""
    return text.isascii() and text.isdigit()


SPREADSHEET_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised_cell(text: str) -> str:
    """A cell of a file meant for a spreadsheet (the bank file) that the spreadsheet will
    not run as a formula: one starting with = + - @ (or tab, carriage return) gets a
    leading apostrophe (OWASP, CSV injection)."""
    return f"'{text}" if text.startswith(SPREADSHEET_FORMULA_STARTS) else text


UNIX_SECONDS_DIGITS_MAX = 12  # unix seconds have 10 digits until the year 2286


def unix_seconds(text: str) -> int | None:
    """A timestamp header's unix seconds, or None when it is not 1..12 ASCII digits.
    The length is bounded before ``int``: thousands of digits would cost quadratic time
    and raise past Python's 4300-digit conversion limit."""
    if len(text) > UNIX_SECONDS_DIGITS_MAX or not is_digits(text):
        return None
    return int(text)


CHINA_OFFSET = timedelta(hours=8)  # China Standard Time, the business clock's zone
# a time as serialisers write it: a date; or a date, "T" or a space, hours and minutes,
# seconds, a fraction of a second (dropped), an offset (Z, +08:00, +0800, +08). Month,
# day, hour, minute and second may have one digit (2026-5-1 8:00:00), as always.
_ISO_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})"
    r"(?:[T ](?P<clock>[0-9]{1,2}:[0-9]{1,2}(?P<seconds>:[0-9]{1,2})?)(?:[.,][0-9]{1,9})?"
    r"(?P<zone>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?",
    re.ASCII)
_COMPACT = re.compile(r"[0-9]{14}", re.ASCII)  # yyyyMMddHHmmss
_STANDARD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", re.ASCII)


def china_time(text: str) -> datetime | None:
    """The China Standard Time (naive, to the second) a field's text names, or None when
    it is not a time. Accepted: ``yyyy-MM-dd``, ``yyyyMMddHHmmss`` and ISO-8601 as
    serialisers write it: ``T`` or a space between date and time, seconds optional, a
    fraction of a second (dropped), and an offset (``Z``, ``+00:00``, ``+0000``, ``+00``)
    converted to +08:00; a time without an offset is China time already."""
    text = text.strip()
    if _STANDARD.fullmatch(text):  # the standard's own form, nearly every time: no strptime
        try:
            return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                            int(text[14:16]), int(text[17:19]))
        except ValueError:
            return None
    if _COMPACT.fullmatch(text):
        try:
            return datetime.strptime(text, "%Y%m%d%H%M%S")
        except ValueError:
            return None
    found = _ISO_TIME.fullmatch(text)
    if found is None:
        return None
    clock = found["clock"] or "00:00:00"
    try:
        moment = datetime.strptime(f"{found['date']} {clock}", "%Y-%m-%d %H:%M:%S"
                                   if found["seconds"] or not found["clock"] else "%Y-%m-%d %H:%M")
        zone = found["zone"]
        if zone is None:
            return moment
        return moment - _offset(zone) + CHINA_OFFSET
    except (ValueError, OverflowError):  # 24:00, a month 13, an offset past a year's end
        return None


def _offset(zone: str) -> timedelta:
    """The UTC offset ``Z``, ``+hh``, ``+hhmm`` or ``+hh:mm`` names (ValueError past 23:59)."""
    if zone == "Z":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if hours > 23 or minutes > 59:
        raise ValueError(zone)
    size = timedelta(hours=hours, minutes=minutes)
    return -size if zone[0] == "-" else size
