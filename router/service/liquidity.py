"""``GET /v1/liquidity/{symbol}``: per-venue depth and score, the escape window, the vote."""

from __future__ import annotations

import asyncio
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from router.core.book import Side
from router.core.liquidity import (
    Baseline,
    VenueLiquidity,
    consolidated,
    escape_window,
    side_depth,
    venue_liquidity,
    world_signature_votes,
)
from router.engine.ports import lists
from router.service.schemas import ApiError, field_error, respond
from router.service.state import ServiceState, state_of
from router.venues.health import CircuitState

log = logging.getLogger(__name__)

_ASSET = re.compile(r"^[A-Z0-9]{2,12}$")
TRUE = ("1", "true", "yes")
FALSE = ("", "0", "false", "no")


def fraction(query: dict[str, str], name: str) -> Decimal:
    """A query parameter in [0, 1] (0 when absent)."""
    raw = query.get(name, "0")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise field_error(name, "must be a number between 0 and 1") from None
    if not value.is_finite() or not 0 <= value <= 1:
        raise field_error(name, "must be a number between 0 and 1")
    return value


def flag(query: dict[str, str], name: str) -> bool:
    raw = query.get(name, "").lower()
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise field_error(name, "must be true or false")


async def read_liquidity(state: ServiceState, symbol: str, query: dict[str, str]) -> dict[str, Any]:
    """Read every listing venue's book, update its baseline and score it."""
    asset = symbol.upper()
    if not _ASSET.match(asset):
        raise field_error("symbol", "must be an asset code like BTC")
    side_name = query.get("side", "sell")
    if side_name not in ("sell", "buy"):
        raise field_error("side", "must be sell or buy")
    danger = fraction(query, "danger")
    volatility = fraction(query, "volatility")
    has_position = flag(query, "has_position")
    quote = query.get("quote", "USDT").upper()
    if not _ASSET.match(quote):
        raise field_error("quote", "must be an asset code like USDT")
    spot = f"{asset}/{quote}"
    names = [n for n, adapter in state.adapters.items() if lists(adapter, spot)]
    if not names:
        raise ApiError(404, "unknown symbol", field="symbol")
    side = Side(side_name)
    readable = [n for n in names if state.health[n].state is not CircuitState.OPEN]
    books = await asyncio.gather(
        *(state.adapters[n].order_book(spot) for n in readable), return_exceptions=True
    )
    readings: list[VenueLiquidity] = []
    errors: dict[str, str] = {n: "circuit open" for n in names if n not in readable}
    for name, got in zip(readable, books, strict=True):
        if isinstance(got, BaseException):
            log.warning("liquidity read of %s on %s failed: %r", spot, name, got)
            state.metrics.venue_errors.labels(venue=name, kind=type(got).__name__).inc()
            errors[name] = "read failed"
            continue
        key = (name, spot, side_name)
        baseline = state.baselines.get(key, Baseline()).observe(side_depth(got.book, side))
        state.baselines[key] = baseline
        readings.append(venue_liquidity(name, got.book, side, baseline))
    total = consolidated(readings)
    for reading in readings:
        if reading.score is not None:
            state.metrics.liquidity.labels(symbol=spot, venue=reading.venue).set(
                float(reading.score)
            )
    if total is not None:
        state.metrics.liquidity.labels(symbol=spot, venue="all").set(float(total))
    window = escape_window(danger, total if total is not None else Decimal(0), volatility)
    votes = world_signature_votes(total, has_position)
    return {
        "symbol": spot,
        "side": side_name,
        "venues": [
            {
                "venue": r.venue,
                "depth": r.depth,
                "baseline": r.baseline,
                "score": r.score,
                "spread_bps": r.spread_bps,
                "imbalance": r.imbalance,
            }
            for r in readings
        ],
        "unavailable": [{"venue": n, "reason": why} for n, why in sorted(errors.items())],
        "consolidated_score": total,
        "escape_window_s": window.seconds,
        "escape_now": window.escape_now,
        "votes": [
            {
                "action": v.action,
                "confidence": float(v.confidence),
                "voter_category": v.voter_category,
                "reason": v.reason,
            }
            for v in votes
        ],
    }


async def liquidity_handler(request: web.Request) -> web.Response:
    payload = await read_liquidity(
        state_of(request), request.match_info["symbol"], dict(request.query)
    )
    return respond(payload)
