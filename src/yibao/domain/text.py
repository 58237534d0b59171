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
