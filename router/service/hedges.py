"""The hedge endpoints: list the perp hedges, unwind one.

``POST /v1/hedges/{hedge_id}/unwind`` answers 200 with what the unwind did (``unwound``,
``open``, ``state`` and the ``reason`` less than asked was bought back), or refuses
before any order: 404 unknown hedge, 409 closed or already being unwound, 422 a
quantity larger than what is open or below the market's smallest order, 429 (with
``Retry-After``) a hedge unwound less than ``service.unwind_min_interval_s`` ago.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from router.core.decimal_text import NotADecimal, parse_decimal, parse_id
from router.engine.errors import (
    HedgeClosed,
    UnknownHedge,
    UnwindQuantityRefused,
    UnwindRefused,
    UnwindRunning,
    UnwindThrottled,
)
from router.engine.unwind import RUNNING
from router.service.liquidity import flag
from router.service.schemas import ApiError, field_error, hedge_json, parse_body, respond
from router.service.state import state_of

UNWIND_FIELDS = frozenset({"quantity", "with_spot"})


async def hedges(request: web.Request) -> web.Response:
    open_only = flag(request.query, "open")
    rows = await state_of(request).journal.hedges(open_only=open_only)
    return respond({"hedges": [hedge_json(row) for row in rows]})


async def unwind(request: web.Request) -> web.Response:
    state = state_of(request)
    try:
        hedge_id = parse_id(request.match_info["hedge_id"])
    except NotADecimal as exc:
        raise field_error("hedge_id", str(exc)) from None
    data = parse_body(await request.read(), optional=True)
    unknown = sorted(set(data) - UNWIND_FIELDS)
    if unknown:
        raise field_error(unknown[0], "unknown field")
    quantity = _quantity(data["quantity"]) if "quantity" in data else None
    with_spot = data.get("with_spot", False)
    if not isinstance(with_spot, bool):
        raise field_error("with_spot", "must be true or false")
    try:
        result = await state.engine.unwind(hedge_id, quantity, with_spot=with_spot)
    except UnwindRefused as exc:
        raise _refusal(exc) from None
    return respond(
        {
            "hedge_id": result.hedge_id,
            "unwound": result.unwound,
            "open": result.open,
            "state": result.state,
            "reason": result.reason,
        }
    )


def _quantity(raw: Any) -> Decimal:
    """The unwind quantity: a decimal string greater than zero."""
    try:
        value = parse_decimal(raw)
    except NotADecimal as exc:
        raise field_error("quantity", str(exc)) from None
    if value <= 0:
        raise field_error("quantity", "must be greater than 0")
    return value


def _refusal(exc: UnwindRefused) -> ApiError:
    """The answer to an unwind the engine refused before sending anything."""
    detail = str(exc)
    if isinstance(exc, UnknownHedge):
        return ApiError(404, "unknown hedge")
    if isinstance(exc, HedgeClosed):
        return ApiError(409, "hedge is closed", hedge_id=exc.hedge_id)
    if isinstance(exc, UnwindRunning):
        if detail == RUNNING:
            return ApiError(409, RUNNING, hedge_id=exc.hedge_id)
        return ApiError(409, RUNNING, hedge_id=exc.hedge_id, detail=detail)
    if isinstance(exc, UnwindQuantityRefused):
        return field_error("quantity", detail)
    if isinstance(exc, UnwindThrottled):
        return ApiError(
            429,
            f"{detail}: ask again in {exc.retry_after_s} s",
            headers={"Retry-After": str(exc.retry_after_s)},
            hedge_id=exc.hedge_id,
            retry_after_s=exc.retry_after_s,
        )
    return ApiError(409, detail, hedge_id=exc.hedge_id)
