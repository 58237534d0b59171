"""Money is integer fen inside; yuan with two decimals only at the edges.

Every rounding of money happens here, half-up to the fen.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

Fen = int

FEN_PER_YUAN = 100
AMOUNT_YUAN_MAX = Decimal("99999999.99")  # 16,2 in the spec; far above any real bill
DIGITS_MAX = 15  # no number the interface accepts has more integer digits than this


class MoneyError(ValueError):
    """A value that cannot be read as an amount of money."""


def to_decimal(value: object, *, field: str) -> Decimal:
    """Read a number sent as JSON number or string; floats go through their repr."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field} is not a number")
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip()
    if not text.isascii():  # Decimal would read Arabic-Indic and fullwidth digits
        raise MoneyError(f"{field} is not a number (ASCII digits): {text[:20]!r}")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise MoneyError(f"{field} is not a number: {str(value)[:20]!r}") from exc
    if not number.is_finite():
        raise MoneyError(f"{field} is not a finite number")
    if number and number.adjusted() > DIGITS_MAX:  # before any arithmetic can overflow
        raise MoneyError(f"{field} is out of range: {str(number)[:24]}")
    return number


def yuan_to_fen(value: object, *, field: str, allow_negative: bool = False) -> Fen:
    """Parse a yuan amount with at most two decimals into fen."""
    number = to_decimal(value, field=field)
    if abs(number) > AMOUNT_YUAN_MAX:  # before quantize, which fails on huge numbers
        raise MoneyError(f"{field} is out of range: {str(number)[:24]}")
    if number != number.quantize(Decimal("0.01")):
        raise MoneyError(f"{field} has more than two decimals: {number}")
    if number < 0 and not allow_negative:
        raise MoneyError(f"{field} is negative: {number}")
    return int(number * FEN_PER_YUAN)


def fen_to_yuan(amount: Fen) -> str:
    """Format fen as a yuan string with two decimals, e.g. 4289500 -> '42895.00'."""
    assert isinstance(amount, int), amount
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def fen_to_decimal(amount: Fen) -> Decimal:
    """Yuan as an exact Decimal with two places, for the interface edge."""
    return Decimal(fen_to_yuan(amount))


def round_fen(value: Decimal) -> Fen:
    """Round a fen amount held as a Decimal half-up to a whole fen."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply_ratio(amount: Fen, ratio: Decimal) -> Fen:
    """amount x ratio, rounded half-up to the fen (exact: integer arithmetic on the
    ratio's fraction, so it equals Decimal quantize ROUND_HALF_UP)."""
    numerator, denominator = _fraction(ratio)
    product = amount * numerator
    if product >= 0:
        return (2 * product + denominator) // (2 * denominator)
    return -((-2 * product + denominator) // (2 * denominator))


@lru_cache(maxsize=1024)
def _fraction(ratio: Decimal) -> tuple[int, int]:
    assert Decimal(0) <= ratio <= Decimal(1), ratio
    return ratio.as_integer_ratio()


def price_times_count(price_yuan: Decimal, count: Decimal) -> Fen:
    """A unit price in yuan (up to 6 decimals) times a count, rounded to the fen."""
    return round_fen(price_yuan * count * FEN_PER_YUAN)
