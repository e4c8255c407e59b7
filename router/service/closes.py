"""The close endpoints: start one, read it, stream its events, cancel it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from pydantic import ValidationError

from router.core.lifecycle import CloseState
from router.engine.errors import CloseRefused
from router.engine.ports import lists
from router.engine.request import CloseRequest
from router.journal.records import CloseView
from router.service.events import close_events
from router.service.schemas import (
    ApiError,
    close_json,
    field_error,
    parse_body,
    respond,
    validation_error,
)
from router.service.state import KeyInUse, ServiceState, state_of

log = logging.getLogger(__name__)


def _check_listed(state: ServiceState, close: CloseRequest) -> None:
    unknown = [v for v in close.venues or [] if v not in state.adapters]
    if unknown:
        raise field_error("venues", f"unknown venues: {', '.join(unknown)}")
    names = close.venues or list(state.adapters)
    if not any(lists(state.adapters[n], close.spot_symbol) for n in names):
        raise field_error("symbol", f"{close.spot_symbol} is not listed by any venue")


def _key_in_use(key: str, close_id: str | None) -> ApiError:
    return ApiError(
        409,
        "idempotency key already used for a different request",
        idempotency_key=key,
        close_id=close_id,
    )


def _journaled_request(close: CloseView) -> CloseRequest | None:
    """The request a journaled close was started with (``None`` if it cannot be read)."""
    try:
        return CloseRequest.from_journal(close.request)
    except ValidationError:
        return None


def _accepted(key: str, close_id: str | None, state: str, *, existing: bool) -> web.Response:
    body = {"close_id": close_id, "state": state, "idempotency_key": key, "existing": existing}
    return respond(body, 200 if existing else 202)


async def post_close(request: web.Request) -> web.Response:
    """Start a close; a key seen before answers its close for the same request and 409
    for a different one (a journaled close, or one still being started or run)."""
    state = state_of(request)
    data = parse_body(await request.read())
    try:
        close = CloseRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    _check_listed(state, close)
    key = close.idempotency_key
    # The running closes first, then the journal: a close leaves ``pending`` only once it
    # is journaled (or refused), so no request can slip between the two looks.
    if key not in state.pending:
        journaled = await state.journal.close_by_key(key)
        if journaled is not None:
            if _journaled_request(journaled) != close:
                raise _key_in_use(key, journaled.id)
            return _accepted(key, journaled.id, journaled.state, existing=True)
    created = key not in state.pending
    try:
        task = state.start(close)
    except KeyInUse:
        first = await state.journal.close_by_key(key)
        raise _key_in_use(key, first.id if first is not None else None) from None
    close_id = await state.wait_for_id(key, task)
    if close_id is None:
        if task.done():
            refused = None if task.cancelled() else task.exception()
            if isinstance(refused, CloseRefused):
                raise field_error("quantity", str(refused))
            raise ApiError(503, "the close could not be started; retry with the same key")
        current_state = "PENDING"
    else:
        current = await state.journal.get_close(close_id)
        current_state = current.state if current else CloseState.RUNNING
    if created:
        log.info(
            "close %s accepted: key %s, %s %s %s",
            close_id or "(being journaled)",
            key,
            close.side,
            "all" if close.quantity == "all" else format(close.quantity, "f"),
            close.spot_symbol,
        )
    return _accepted(key, close_id, current_state, existing=not created)


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
