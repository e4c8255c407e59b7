"""A close request as Daimon (or an operator) sends it, validated.

Numbers arrive as JSON strings in the one strict grammar of
:mod:`router.core.decimal_text`: a JSON number, or a string Python's ``Decimal`` would
read but the grammar does not (``"1_0"``, ``"١"``, ``" 0.5 "``, ``"+1"``, ``"1e3"``), is
refused naming the field. Python callers may pass ``Decimal`` objects, which are taken as
they are (their range is still checked); ints and floats are refused like JSON numbers,
and so is a JSON number the body parser read as a ``Decimal`` subclass.

Two requests are the same request when they are equal as validated models: decimals
compare by value (``"1"`` and ``"1.0"`` are one quantity), asset codes after
upper-casing, everything else exactly (``venues`` in its order, ``reason`` to the
character). An idempotency key names one request in that sense.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
)

from router.core.decimal_text import DECIMAL_RULE, parse_decimal

_KEY = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_ASSET = re.compile(r"[A-Za-z0-9]{2,12}")
DECIMAL_FIELDS = (
    "quantity",
    "urgency",
    "danger",
    "unrealized_pnl",
    "volatility",
    "deadline_s",
    "max_slippage",
)
"""The fields that hold a decimal (``quantity`` may also be ``"all"``)."""


def _python(value: object) -> bool:
    """A ``Decimal`` a Python caller built (exactly that type: a JSON parser's number,
    even one read as a ``Decimal`` subclass, is not one)."""
    return type(value) is Decimal


def _strict(value: object) -> object:
    """A Python ``Decimal`` as it is; anything else must be a string in the grammar."""
    return value if _python(value) else parse_decimal(value)


def _strict_signed(value: object) -> object:
    """A Python ``Decimal`` as it is; anything else must be a string in the signed
    grammar."""
    return value if _python(value) else parse_decimal(value, signed=True)


Strict = BeforeValidator(_strict)
Fraction = Annotated[Decimal, Strict, Field(ge=0, le=1, allow_inf_nan=False)]
Pnl = Annotated[Decimal, BeforeValidator(_strict_signed), Field(ge=-1, le=10, allow_inf_nan=False)]
Seconds = Annotated[Decimal, Strict, Field(gt=0, le=86400, allow_inf_nan=False)]
Tolerance = Annotated[Decimal, Strict, Field(gt=0, lt=1, allow_inf_nan=False)]


class CloseRequest(BaseModel):
    """Close (part of) a position: sell to close a long, buy to close a short."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field(description="base asset of the position, e.g. BTC (quote is USDT)")
    side: Literal["sell", "buy"]
    quantity: (
        Annotated[Decimal, Field(gt=0, allow_inf_nan=False, max_digits=38, decimal_places=18)]
        | Literal["all"]
    )
    urgency: Fraction = Decimal("0.5")
    danger: Fraction = Decimal(0)
    unrealized_pnl: Pnl | None = None
    volatility: Fraction | None = None
    reason: Annotated[str, Field(max_length=500)] = ""
    idempotency_key: str
    allow_hedge: bool = Field(default=True, strict=True)
    deadline_s: Seconds | None = None
    max_slippage: Tolerance | None = Field(
        default=None,
        description="never escalate beyond this tolerance (a stop tier's); default: the ladder",
    )
    venues: list[str] | None = None
    quote: str = "USDT"

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: object) -> object:
        if (isinstance(value, str) and value == "all") or _python(value):
            return value
        try:
            return parse_decimal(value)
        except ValueError:
            raise ValueError(f'must be "all" or {DECIMAL_RULE}') from None

    @field_validator("symbol", "quote")
    @classmethod
    def _asset(cls, value: str) -> str:
        if not _ASSET.fullmatch(value):
            raise ValueError("must be an asset code like BTC or USDT")
        return value.upper()

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.fullmatch(value):
            raise ValueError("1-128 characters of letters, digits, '.', '_', ':' or '-'")
        return value

    @field_validator("venues")
    @classmethod
    def _venues(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("a non-empty list of distinct venue names")
        return value

    @field_serializer(*DECIMAL_FIELDS, when_used="json")
    @staticmethod
    def _plain(value: Decimal | str | None) -> str | None:
        """Decimals as plain digits (``"0.0000001"``, never ``"1E-7"``): a dumped request
        reads back under the strict grammar."""
        return format(value, "f") if isinstance(value, Decimal) else value

    @classmethod
    def from_journal(cls, data: Mapping[str, Any]) -> CloseRequest:
        """The request a journal row stored (``model_dump(mode="json")`` of a validated
        request). The router wrote it itself, so a decimal in any ``Decimal`` spelling an
        earlier version stored (``"1E-7"``) is read back; everything else is validated as
        usual."""
        values = dict(data)
        for name in DECIMAL_FIELDS:
            text = values.get(name)
            if isinstance(text, str) and text != "all":
                with contextlib.suppress(InvalidOperation):
                    values[name] = Decimal(text)
        return cls.model_validate(values)

    @property
    def spot_symbol(self) -> str:
        return f"{self.symbol}/{self.quote}"

    @property
    def perp_symbol(self) -> str:
        return f"{self.symbol}/{self.quote}:{self.quote}"
