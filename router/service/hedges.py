"""The hedge endpoints: list the perp hedges, unwind one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from router.service.schemas import ApiError, field_error, hedge_json, parse_body, respond
from router.service.state import state_of


async def hedges(request: web.Request) -> web.Response:
    open_only = request.query.get("open", "").lower() in ("1", "true", "yes")
    rows = await state_of(request).journal.hedges(open_only=open_only)
    return respond({"hedges": [hedge_json(row) for row in rows]})


async def unwind(request: web.Request) -> web.Response:
    state = state_of(request)
    try:
        hedge_id = int(request.match_info["hedge_id"])
    except ValueError:
        raise ApiError(404, "unknown hedge") from None
    data = parse_body(await request.read(), optional=True)
    unknown = sorted(set(data) - {"quantity", "with_spot"})
    if unknown:
        raise field_error(unknown[0], "unknown field")
    quantity: Decimal | None = None
    if "quantity" in data:
        quantity = _positive(data["quantity"])
    with_spot = data.get("with_spot", False)
    if not isinstance(with_spot, bool):
        raise field_error("with_spot", "must be true or false")
    if hedge_id not in {h["id"] for h in await state.journal.hedges()}:
        raise ApiError(404, "unknown hedge")
    unwound = await state.engine.unwind(hedge_id, quantity, with_spot=with_spot)
    return respond({"hedge_id": hedge_id, "unwound": unwound})


def _positive(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw)) if isinstance(raw, (str, int, Decimal)) else None
    except ArithmeticError:
        value = None
    if isinstance(raw, bool) or value is None or not value.is_finite() or value <= 0:
        raise field_error("quantity", "must be a positive decimal")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        raise field_error("quantity", "at most 18 decimal places")
    return value
