"""``router plan``: what the router would do with these books (parsing and answer shape).

The input is a JSON document (see docs/plan.md); numbers may be strings or JSON
numbers (read as exact decimals). ``max_slippage`` is a fraction of the reference
price; 1 means unbounded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from router.core.allocation import Allocation, VenueQuote, allocate, oracle
from router.core.book import Book, InvalidBook, Side
from router.core.numbers import ONE, ZERO

Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class PlanInputError(ValueError):
    """The plan request is invalid; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def _levels(value: object) -> object:
    if not isinstance(value, list):
        return value
    out = []
    for index, level in enumerate(value):
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise ValueError(f"level {index} must be [price, quantity]")
        out.append(tuple(level))
    return out


class PlanVenue(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    taker_fee: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = ZERO
    lot_step: Positive = Decimal("0.00000001")
    min_qty: NonNegative = ZERO
    min_notional: NonNegative = ZERO
    tick: Positive = Decimal("0.00000001")
    inventory: NonNegative
    band_low: Positive | None = None
    band_high: Positive | None = None
    bids: list[tuple[Positive, Positive]] = Field(default_factory=list)
    asks: list[tuple[Positive, Positive]] = Field(default_factory=list)

    _pairs = field_validator("bids", "asks", mode="before")(_levels)


class PlanRequest(_Strict):
    side: Literal["sell", "buy"]
    quantity: Positive
    reference_price: Positive
    max_slippage: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
    venues: Annotated[list[PlanVenue], Field(min_length=1, max_length=100)]

    def cap(self) -> Decimal | None:
        """The limit price the slippage tolerance allows (``None`` = unbounded)."""
        if self.max_slippage >= 1:
            return None
        if self.side == "sell":
            return self.reference_price * (ONE - self.max_slippage)
        return self.reference_price * (ONE + self.max_slippage)


def parse_plan_request(raw: Any) -> tuple[PlanRequest, list[VenueQuote]]:
    """Validate a request and turn its venues into the planner's quotes."""
    if not isinstance(raw, dict):
        raise PlanInputError("the input must be a JSON object")
    try:
        request = PlanRequest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PlanInputError(problems) from exc
    names = [v.name for v in request.venues]
    if len(set(names)) != len(names):
        raise PlanInputError(f"venues: names must be unique, got {names}")
    side = Side(request.side)
    quotes = []
    for venue in request.venues:
        try:
            book = Book(tuple(venue.bids), tuple(venue.asks))
        except InvalidBook as exc:
            raise PlanInputError(f"venues.{venue.name}: {exc}") from exc
        quotes.append(
            VenueQuote(
                name=venue.name,
                levels=book.taken_by(side),
                inventory=venue.inventory,
                taker_fee=venue.taker_fee,
                lot_step=venue.lot_step,
                min_qty=venue.min_qty,
                min_notional=venue.min_notional,
                tick=venue.tick,
                band_low=venue.band_low,
                band_high=venue.band_high,
            )
        )
    return request, quotes


def plain(value: Decimal | None) -> str | None:
    """A decimal as a plain string (no exponent, no trailing zeros beyond the integer)."""
    if value is None:
        return None
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _money(allocation: Allocation) -> Decimal:
    return allocation.net if allocation.side is Side.SELL else -allocation.net


def plan(raw: Any) -> dict[str, Any]:
    """The answer of ``router plan --json`` for a request document."""
    request, quotes = parse_plan_request(raw)
    side = Side(request.side)
    cap = request.cap()
    chosen = allocate(quotes, side, request.quantity, cap)
    bound = oracle(quotes, side, request.quantity, cap)
    return {
        "side": request.side,
        "quantity": plain(request.quantity),
        "limit_price": plain(cap),
        "children": [
            {
                "venue": child.venue,
                "quantity": plain(child.quantity),
                "limit_price": plain(child.limit_price),
                "expected_average_price": plain(child.expected_average),
            }
            for child in chosen.children
        ],
        "filled": plain(chosen.filled),
        "net_proceeds": plain(_money(chosen)),
        "average_price": plain(chosen.average_price),
        "residual": plain(chosen.residual),
        "oracle_filled": plain(bound.filled),
        "oracle_net_proceeds": plain(_money(bound)),
    }
