"""Rules for text that carries numbers."""

from __future__ import annotations


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
