"""Decimal helpers shared by the core: parsing and rounding onto exchange grids."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

ZERO = Decimal(0)
ONE = Decimal(1)


class InvalidNumber(ValueError):
    """A quantity or price that is not a finite decimal, or is out of range."""


def to_decimal(
    value: object, name: str, *, positive: bool = False, allow_zero: bool = True
) -> Decimal:
    """A finite ``Decimal`` from a string, int or Decimal (floats are refused).

    Floats are refused because they cannot say which decimal they meant; callers at
    the I/O boundary convert floats with ``Decimal(str(x))`` deliberately.
    """
    if isinstance(value, bool | float):
        raise InvalidNumber(f"{name}: expected a decimal string, got {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidNumber(f"{name}: not a number: {value!r}") from exc
    if not number.is_finite():
        raise InvalidNumber(f"{name}: must be finite, got {value!r}")
    if number < 0 or (positive and number == 0) or (not allow_zero and number == 0):
        raise InvalidNumber(
            f"{name}: must be {'positive' if positive else 'non-negative'}, got {value!r}"
        )
    return number


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of ``step`` not above ``value``."""
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """The smallest multiple of ``step`` not below ``value``."""
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def lots(value: Decimal, step: Decimal) -> int:
    """Whole lots of ``step`` in ``value`` (rounded down)."""
    return int((value / step).to_integral_value(rounding=ROUND_FLOOR))


def ceil_lots(value: Decimal, step: Decimal) -> int:
    return int((value / step).to_integral_value(rounding=ROUND_CEILING))


def plain(value: Decimal) -> str:
    """``value`` as people write it: no exponent, no trailing zeros (``0E-18`` -> ``0``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
