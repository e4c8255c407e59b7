"""The one grammar for numbers that arrive from outside: plain ASCII decimals.

``Decimal(text)`` accepts far more than a caller means: ``"1_0"`` is ten, ``"١"``
(Arabic-Indic) and ``"１"`` (fullwidth) are one, surrounding whitespace and a leading
``+`` are ignored, ``"1e3"`` is a thousand. A quantity written any of those ways is
almost certainly a mistake, so every number from a request (body, path or query) must
match :data:`DECIMAL` (or :data:`SIGNED_DECIMAL` where negatives make sense) exactly:
ASCII digits, no leading zeros, at most one ``.`` with digits on both sides, at most 20
integer digits and 18 decimals (the journal's ``Numeric(38, 18)``).

The ``*_PATTERN`` strings are the same grammars written for OpenAPI (ECMA-262, anchored);
Python matches the unanchored forms with ``fullmatch``, so a trailing newline never
passes.
"""

from __future__ import annotations

import re
from decimal import Decimal

_UNSIGNED = r"(?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,18})?"
_ID = r"[1-9][0-9]{0,17}"

DECIMAL_PATTERN = f"^{_UNSIGNED}$"
SIGNED_DECIMAL_PATTERN = f"^-?{_UNSIGNED}$"
ID_PATTERN = f"^{_ID}$"

DECIMAL = re.compile(_UNSIGNED, re.ASCII)
SIGNED_DECIMAL = re.compile(f"-?{_UNSIGNED}", re.ASCII)
ID = re.compile(_ID, re.ASCII)

DECIMAL_RULE = (
    'a decimal string such as "0.5": ASCII digits, an optional "." and up to 18 decimals, '
    "no sign, exponent, spaces or separators"
)
SIGNED_DECIMAL_RULE = (
    'a decimal string such as "-0.25": an optional "-", ASCII digits, an optional "." and '
    "up to 18 decimals, no exponent, spaces or separators"
)
ID_RULE = "a positive whole number in ASCII digits, without leading zeros"


class NotADecimal(ValueError):
    """The text is not in the strict decimal grammar (the message never echoes it)."""


def parse_decimal(text: object, *, signed: bool = False) -> Decimal:
    """The exact ``Decimal`` of ``text`` if it is a string in the grammar, else
    :class:`NotADecimal` saying what is expected."""
    grammar, rule = (SIGNED_DECIMAL, SIGNED_DECIMAL_RULE) if signed else (DECIMAL, DECIMAL_RULE)
    if not isinstance(text, str) or grammar.fullmatch(text) is None:
        raise NotADecimal(f"must be {rule}")
    return Decimal(text)


def parse_id(text: object) -> int:
    """A positive integer id written in ASCII digits (paths, query strings)."""
    if not isinstance(text, str) or ID.fullmatch(text) is None:
        raise NotADecimal(f"must be {ID_RULE}")
    return int(text)
