"""``GET /v1/liquidity/{symbol}``: per-venue depth and score, the escape window, the vote."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from router.core.book import Side
from router.core.decimal_text import NotADecimal, parse_decimal
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
from router.venues.errors import failure_kind, safe_message
from router.venues.health import CircuitState

log = logging.getLogger(__name__)

_ASSET = re.compile(r"[A-Za-z0-9]{2,12}")
FLAGS = {"true": True, "1": True, "false": False, "0": False}
"""The spellings a query flag accepts, exactly."""


def fraction(query: Mapping[str, str], name: str) -> Decimal:
    """A query parameter in [0, 1] written in the strict decimal grammar (0 when absent)."""
    raw = query.get(name)
    if raw is None:
        return Decimal(0)
    try:
        value = parse_decimal(raw)
    except NotADecimal as exc:
        raise field_error(name, f"{exc} (between 0 and 1)") from None
    if value > 1:
        raise field_error(name, "must be between 0 and 1")
    return value


def flag(query: Mapping[str, str], name: str) -> bool:
    """A query flag: exactly ``true``, ``false``, ``1`` or ``0`` (false when absent)."""
    raw = query.get(name)
    if raw is None:
        return False
    if raw not in FLAGS:
        raise field_error(name, "must be true, false, 1 or 0")
    return FLAGS[raw]


def asset(text: str, name: str, example: str) -> str:
    """An asset code (``[A-Za-z0-9]{2,12}``), upper-cased."""
    if not _ASSET.fullmatch(text):
        raise field_error(name, f"must be an asset code like {example}")
    return text.upper()


async def read_liquidity(state: ServiceState, symbol: str, query: dict[str, str]) -> dict[str, Any]:
    """Read every listing venue's book, update its baseline and score it."""
    base = asset(symbol, "symbol", "BTC")
    side_name = query.get("side", "sell")
    if side_name not in ("sell", "buy"):
        raise field_error("side", "must be sell or buy")
    danger = fraction(query, "danger")
    volatility = fraction(query, "volatility")
    has_position = flag(query, "has_position")
    quote = asset(query.get("quote", "USDT"), "quote", "USDT")
    spot = f"{base}/{quote}"
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
            if isinstance(got, Exception):  # counted against the venue, as the engine's reads
                kind = failure_kind(got)
                state.health[name].record_failure(kind, safe_message(got)[:200])
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
