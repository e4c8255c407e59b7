"""ccxt's numbers, markets and books as the engine's values.

Every float from ccxt becomes a Decimal through ``Decimal(str(x))`` here and nowhere
else. Anything that cannot be converted, or converts to something impossible, raises
:class:`~router.venues.errors.BadVenueData`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from router.core.book import Book, InvalidBook, Level
from router.venues.errors import BadVenueData
from router.venues.model import MarketInfo, MarketKind

ZERO = Decimal(0)


def decimal(value: object, what: str) -> Decimal:
    """A finite Decimal from a ccxt number (float, int or numeric string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise BadVenueData(f"{what}: expected a number, got {type(value).__name__} {value!r}")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise BadVenueData(f"{what}: not a number: {value!r}") from None
    if not result.is_finite():
        raise BadVenueData(f"{what}: not a finite number: {value!r}")
    return result


def optional_decimal(value: object, what: str) -> Decimal | None:
    return None if value is None else decimal(value, what)


def utc_from_ms(value: object) -> datetime | None:
    """An aware UTC datetime from epoch milliseconds, or ``None`` if there are none."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def step(value: object, precision_mode: int, what: str) -> Decimal:
    """A grid step from a ccxt precision value: a step already (TICK_SIZE mode) or a
    number of decimal places (DECIMAL_PLACES mode)."""
    if precision_mode == TICK_SIZE:
        result = decimal(value, what)
    elif precision_mode == DECIMAL_PLACES:
        result = Decimal(1).scaleb(-int(decimal(value, what)))
    else:
        raise BadVenueData(f"{what}: precision mode {precision_mode} is not supported")
    if result <= 0:
        raise BadVenueData(f"{what}: step must be positive, got {result}")
    return result


def market_kind(market: Mapping[str, Any]) -> MarketKind | None:
    """``spot``, ``linear`` for a USD-M perpetual, ``None`` for anything else."""
    if market.get("spot"):
        return "spot"
    if market.get("swap") and market.get("linear"):
        return "linear"
    return None


def _filters(market: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    info = market.get("info")
    raw = info.get("filters") if isinstance(info, Mapping) else None
    if not isinstance(raw, list):
        return {}
    return {f["filterType"]: f for f in raw if isinstance(f, Mapping) and "filterType" in f}


def _limit(market: Mapping[str, Any], name: str, bound: str) -> object:
    limits = market.get("limits") or {}
    return (limits.get(name) or {}).get(bound)


def _min_notional(market: Mapping[str, Any], filters: Mapping[str, Mapping[str, Any]]) -> Decimal:
    symbol = market.get("symbol")
    notional = filters.get("NOTIONAL", {}).get("minNotional")
    if notional is None:
        legacy = filters.get("MIN_NOTIONAL", {})
        notional = legacy.get("minNotional", legacy.get("notional"))
    if notional is None:
        notional = _limit(market, "cost", "min")
    return ZERO if notional is None else decimal(notional, f"{symbol} min notional")


def _bands(
    symbol: str, filters: Mapping[str, Mapping[str, Any]]
) -> tuple[Decimal | None, Decimal | None]:
    """The price band as multiples of the reference price, the tighter of both sides.

    PERCENT_PRICE_BY_SIDE (spot) has separate bands for bids and asks; taking the
    higher floor and the lower cap keeps a price valid whichever side it is for.
    """
    by_side = filters.get("PERCENT_PRICE_BY_SIDE")
    if by_side is not None:
        downs = [by_side.get("bidMultiplierDown"), by_side.get("askMultiplierDown")]
        ups = [by_side.get("bidMultiplierUp"), by_side.get("askMultiplierUp")]
        down = [decimal(v, f"{symbol} band floor") for v in downs if v is not None]
        up = [decimal(v, f"{symbol} band cap") for v in ups if v is not None]
        return (max(down) if down else None, min(up) if up else None)
    plain = filters.get("PERCENT_PRICE")
    if plain is not None:
        return (
            optional_decimal(plain.get("multiplierDown"), f"{symbol} band floor"),
            optional_decimal(plain.get("multiplierUp"), f"{symbol} band cap"),
        )
    return (None, None)


def market_info(
    venue: str,
    market: Mapping[str, Any],
    precision_mode: int,
    fees: tuple[Decimal, Decimal] | None = None,
) -> MarketInfo:
    """One ccxt market as :class:`MarketInfo`; ``fees`` (taker, maker) override ccxt's."""
    symbol = str(market.get("symbol"))
    kind = market_kind(market)
    if kind is None:
        raise BadVenueData(f"{symbol}: neither spot nor a linear perpetual")
    precision = market.get("precision") or {}
    filters = _filters(market)
    down, up = _bands(symbol, filters)
    lot_step = step(precision.get("amount"), precision_mode, f"{symbol} amount precision")
    min_qty = optional_decimal(_limit(market, "amount", "min"), f"{symbol} min amount")
    if fees is None:
        fees = (
            decimal(market.get("taker"), f"{symbol} taker fee"),
            decimal(market.get("maker"), f"{symbol} maker fee"),
        )
    return MarketInfo(
        venue=venue,
        symbol=symbol,
        market_id=str(market.get("id")),
        kind=kind,
        base=str(market.get("base")),
        quote=str(market.get("quote")),
        lot_step=lot_step,
        min_qty=min_qty if min_qty is not None else lot_step,
        max_qty=optional_decimal(_limit(market, "amount", "max"), f"{symbol} max amount"),
        market_max_qty=optional_decimal(_limit(market, "market", "max"), f"{symbol} market max"),
        min_notional=_min_notional(market, filters),
        tick=step(precision.get("price"), precision_mode, f"{symbol} price precision"),
        percent_down=down,
        percent_up=up,
        taker_fee=fees[0],
        maker_fee=fees[1],
    )


def levels(raw: object, what: str, depth: int | None = None) -> tuple[Level, ...]:
    """``[[price, amount, ...], ...]`` as Decimal levels, the best ``depth`` of them."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise BadVenueData(f"{what}: expected a list of levels, got {type(raw).__name__}")
    result: list[Level] = []
    for level in raw[:depth]:
        if not isinstance(level, Sequence) or isinstance(level, str | bytes) or len(level) < 2:
            raise BadVenueData(f"{what}: malformed level {level!r}")
        result.append((decimal(level[0], f"{what} price"), decimal(level[1], f"{what} amount")))
    return tuple(result)


def book(bids: object, asks: object, what: str, depth: int | None = None) -> Book:
    """A validated :class:`Book`; an impossible one raises BadVenueData."""
    try:
        return Book(levels(bids, f"{what} bids", depth), levels(asks, f"{what} asks", depth))
    except InvalidBook as exc:
        raise BadVenueData(f"{what}: {exc}") from exc
