"""The close endpoints: start one, read it, stream its events, cancel it."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import ValidationError

from router.engine.errors import CloseRefused
from router.engine.ports import lists
from router.engine.request import CloseRequest
from router.service.events import close_events
from router.service.schemas import (
    ApiError,
    close_json,
    field_error,
    parse_body,
    respond,
    validation_error,
)
from router.service.state import ServiceState, state_of


def _check_listed(state: ServiceState, close: CloseRequest) -> None:
    unknown = [v for v in close.venues or [] if v not in state.adapters]
    if unknown:
        raise field_error("venues", f"unknown venues: {', '.join(unknown)}")
    names = close.venues or list(state.adapters)
    if not any(lists(state.adapters[n], close.spot_symbol) for n in names):
        raise field_error("symbol", f"{close.spot_symbol} is not listed by any venue")


async def post_close(request: web.Request) -> web.Response:
    state = state_of(request)
    data = parse_body(await request.read())
    try:
        close = CloseRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    _check_listed(state, close)
    key = close.idempotency_key
    existing = await state.journal.close_by_key(key)
    if existing is not None:
        return respond({"close_id": existing.id, "state": existing.state}, 200)
    task = state.start(close)
    close_id = await state.wait_for_id(key, task)
    if close_id is None:
        if task.done():
            refused = None if task.cancelled() else task.exception()
            if isinstance(refused, CloseRefused):
                raise field_error("quantity", str(refused))
            raise ApiError(503, "the close could not be started; retry with the same key")
        return respond({"close_id": None, "state": "PENDING", "idempotency_key": key}, 202)
    current = await state.journal.get_close(close_id)
    return respond({"close_id": close_id, "state": current.state if current else "RUNNING"}, 202)


async def get_close(request: web.Request) -> web.Response:
    state = state_of(request)
    close_id = request.match_info["close_id"]
    close = await state.journal.get_close(close_id)
    if close is None:
        raise ApiError(404, "unknown close")
    attempts = await state.journal.attempts(close_id)
    fills = await state.journal.fills(close_id)
    return respond(close_json(close, attempts, fills, running=state.running(close_id)))


async def events(request: web.Request) -> web.StreamResponse:
    return await close_events(request, state_of(request))


async def cancel_close(request: web.Request) -> web.Response:
    state = state_of(request)
    close_id = request.match_info["close_id"]
    close = await state.journal.get_close(close_id)
    if close is None:
        raise ApiError(404, "unknown close")
    if close.outcome is not None:
        raise ApiError(409, "the close has already finished", outcome=close.outcome)
    cancel: Callable[[str], None] | None = getattr(state.engine, "cancel", None)
    if cancel is None:
        raise ApiError(409, "cancel is not supported for a running close")
    cancel(close_id)
    return respond({"close_id": close_id, "state": close.state, "cancel_requested": True}, 202)
