"""Money is integer fen inside; yuan with two decimals only at the edges.

Every rounding of money happens here, under a name that says which way it goes:

- ``round_fen``, ``apply_ratio``, ``price_times_count``: half-up to the fen (a share of
  an amount, a price times a count);
- ``floor_amount_within``: down to the fen (the largest amount whose share fits a room:
  never pays past a cap);
- ``floor_ratio``: down to 0.0001 (the ratio a fund paid, as reported: never overstated);
- ``floor_average``: down to the fen (a monthly average of fen, e.g. a prepayment);
- ``interest_half_up``: half-up to the fen (a month's interest on balance-days: the
  advance fund between regions).

No amount passes through ``float``: the edges read JSON numbers as ``Decimal``
(``to_decimal``, ``yuan_to_fen``: at most two decimals, or refused) and write them as
exact decimal text (``fen_to_yuan``, ``fen_to_decimal``, ``json_number``).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

Fen = int

FEN_PER_YUAN = 100
AMOUNT_YUAN_MAX = Decimal("99999999.99")  # 16,2 in the spec; far above any real bill
DIGITS_MAX = 15  # no number the interface accepts has more integer digits than this


class MoneyError(ValueError):
    """A value that cannot be read as an amount of money."""


def to_decimal(value: object, *, field: str) -> Decimal:
    """Read a number sent as JSON number (parsed as ``Decimal``: api/envelope.py) or as a
    string. A float (a caller that parsed JSON itself) is read through its repr, the
    shortest text of its value, never through binary arithmetic."""
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


RATIO_PLACES = Decimal("0.0001")


def floor_ratio(part: Fen, whole: Fen) -> Decimal:
    """part / whole, rounded down to 0.0001 (0 when ``whole`` is not positive)."""
    if whole <= 0:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(RATIO_PLACES, rounding=ROUND_FLOOR)


def floor_amount_within(room: Fen, ratio: Decimal) -> Fen:
    """The largest whole-fen amount whose share at ``ratio`` (> 0) is at most ``room``,
    rounded down: floor(room / ratio)."""
    return int((Decimal(room) / ratio).to_integral_value(rounding=ROUND_FLOOR))


def floor_average(total: Fen, count: int) -> Fen:
    """The average of ``count`` (> 0) amounts totalling ``total``, rounded down to the fen."""
    return total // count


def interest_half_up(balance_days: int, annual_rate: Decimal, day_count: int) -> Fen:
    """Simple interest on ``balance_days`` (fen x days: the sum of each day's closing
    balance) at ``annual_rate`` (0.0035 = 0.35 %) on a year of ``day_count`` days,
    rounded half-up to the fen once (not per day). Exact: integer arithmetic on the
    rate's fraction. A negative balance earns nothing."""
    assert day_count > 0 and annual_rate >= 0, (day_count, annual_rate)
    if balance_days <= 0:
        return 0
    numerator, denominator = annual_rate.as_integer_ratio()
    whole = denominator * day_count
    return (2 * balance_days * numerator + whole) // (2 * whole)


def json_number(value: Decimal) -> str:
    """The JSON number text of an exact decimal, without going through ``float``: the
    digits of the value with trailing zeros dropped, in the layout Python gives a float
    (``42895.0``, ``0.01``, ``1e-05``, ``1e+16``). For up to 15 significant digits (every
    amount and ratio the interface has) that is the very text ``float`` gave, so answers
    kept their bytes; beyond, it keeps the digits a float would have lost."""
    if not value.is_finite():
        raise MoneyError(f"not a finite number: {value}")
    text = str(value)
    if value and "E" not in text and -4 <= value.adjusted() < 16:  # every amount: fast
        if "." not in text:
            return text + ".0"
        text = text.rstrip("0")
        return text + "0" if text.endswith(".") else text
    return _json_number_laid_out(value)


def _json_number_laid_out(value: Decimal) -> str:
    sign, digits, exponent = value.as_tuple()  # exact: no context rounds the digits
    assert isinstance(exponent, int)
    minus = "-" if sign else ""
    text = "".join(map(str, digits)).rstrip("0")
    if not text:
        return f"{minus}0.0"
    point = len(digits) + exponent  # where the decimal point goes, counted from the left
    if -4 < point <= 16:
        return minus + _fixed(text, point)
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{minus}{mantissa}e{point - 1:+03d}"


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits)) + ".0"
    return f"{digits[:point]}.{digits[point:]}"
