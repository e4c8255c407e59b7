"""A close request as Daimon (or an operator) sends it, validated."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_ASSET = re.compile(r"^[A-Z0-9]{2,12}$")


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
    unrealized_pnl: Annotated[Decimal, Field(ge=-1, le=10, allow_inf_nan=False)] | None = None
    volatility: Fraction | None = None
    reason: Annotated[str, Field(max_length=500)] = ""
    idempotency_key: str
    allow_hedge: bool = True
    deadline_s: Annotated[Decimal, Field(gt=0, le=86400, allow_inf_nan=False)] | None = None
    max_slippage: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)] | None = Field(
        default=None,
        description="never escalate beyond this tolerance (a stop tier's); default: the ladder",
    )
    venues: list[str] | None = None
    quote: str = "USDT"

    @field_validator("symbol", "quote")
    @classmethod
    def _asset(cls, value: str) -> str:
        upper = value.upper()
        if not _ASSET.match(upper):
            raise ValueError("must be an asset code like BTC or USDT")
        return upper

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError("1-128 characters of letters, digits, '.', '_', ':' or '-'")
        return value

    @field_validator("venues")
    @classmethod
    def _venues(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("a non-empty list of distinct venue names")
        return value

    @property
    def spot_symbol(self) -> str:
        return f"{self.symbol}/{self.quote}"

    @property
    def perp_symbol(self) -> str:
        return f"{self.symbol}/{self.quote}:{self.quote}"
