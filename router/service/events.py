"""``GET /v1/closes/{id}/events``: a close's progress as server-sent events.

The handler polls the journal (every :data:`EVENTS_POLL_S` seconds) and emits one
event per change it sees, as ``event: <kind>`` and ``data: <json>`` lines:

* ``close``: once, first: the close as it stands (id, key, symbol, side, state, requested);
* ``state``: the close's state changed;
* ``attempt``: a new order attempt (the same fields as in ``GET /v1/closes/{id}``);
* ``attempt_update``: an attempt's state, filled quantity or error changed;
* ``fill``: a new fill;
* ``outcome``: the close finished; the last event, after which the stream ends;
* ``shutdown``: the service is shutting down before the close finished (``close_id``,
  ``state``, ``reason``); the last event, after which the stream ends (follow the close
  on the router that resumes it).

A comment line is sent after :data:`KEEPALIVE_S` seconds without events so proxies
keep the connection. A client that goes away ends its stream quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from router.journal.records import AttemptView, CloseView, FillRecord
from router.service.schemas import ApiError, attempt_json, close_json, dumps, fill_json
from router.service.state import ServiceState

EVENTS_POLL_S = 0.2
KEEPALIVE_S = 15.0
SHUTTING_DOWN = "service shutting down"

OUTCOME_FIELDS = (
    "close_id",
    "state",
    "outcome",
    "reason",
    "requested",
    "filled",
    "hedged",
    "residual",
    "finished_at",
)

Event = tuple[str, dict[str, Any]]


def _attempt_key(attempt: AttemptView) -> tuple[Any, ...]:
    return (attempt.state, attempt.filled_qty, attempt.error_class)


def _fill_key(fill: FillRecord) -> tuple[str, str, str]:
    return (fill.venue, fill.market, fill.trade_id)


class CloseProgress:
    """What a stream has told its reader so far, and the events each new reading adds."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.attempts: dict[str, tuple[Any, ...]] = {}
        self.fills: set[tuple[str, str, str]] = set()
        self.finished = False

    def update(
        self,
        close: CloseView,
        attempts: Sequence[AttemptView],
        fills: Sequence[FillRecord],
        *,
        running: bool,
    ) -> list[Event]:
        """The events between the last reading and this one (the outcome last)."""
        events: list[Event] = []
        if self.state is None:
            events.append(
                (
                    "close",
                    {
                        "close_id": close.id,
                        "idempotency_key": close.idempotency_key,
                        "symbol": close.symbol,
                        "side": close.side,
                        "state": close.state,
                        "requested": close.requested_qty,
                    },
                )
            )
        elif close.state != self.state:
            events.append(("state", {"close_id": close.id, "state": close.state}))
        self.state = close.state
        for attempt in attempts:
            key = _attempt_key(attempt)
            seen = self.attempts.get(attempt.client_order_id)
            if seen is None:
                events.append(("attempt", attempt_json(attempt)))
            elif seen != key:
                events.append(("attempt_update", attempt_json(attempt)))
            self.attempts[attempt.client_order_id] = key
        for fill in fills:
            if _fill_key(fill) not in self.fills:
                self.fills.add(_fill_key(fill))
                events.append(("fill", fill_json(fill)))
        if close.outcome is not None and not self.finished:
            self.finished = True
            summary = close_json(close, attempts, fills, running=running)
            events.append(("outcome", {key: summary[key] for key in OUTCOME_FIELDS}))
        return events


def frame(kind: str, data: dict[str, Any]) -> bytes:
    """One server-sent event."""
    return f"event: {kind}\ndata: {dumps(data)}\n\n".encode()


def _gone(request: web.Request) -> bool:
    """Whether the client closed the connection."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def _pause(state: ServiceState) -> None:
    """Wait :data:`EVENTS_POLL_S` seconds, or less if the service starts shutting down."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.stopping.wait(), EVENTS_POLL_S)


async def close_events(request: web.Request, state: ServiceState) -> web.StreamResponse:
    """Stream the close's progress until its outcome (404 before streaming if unknown)."""
    close_id = request.match_info["close_id"]
    close = await state.journal.get_close(close_id)
    if close is None:
        raise ApiError(404, "unknown close")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    # a client that went away mid-write is not an error: nobody is left to tell
    with contextlib.suppress(ConnectionError):
        await _stream(request, response, state, close)
    return response


async def _stream(
    request: web.Request, response: web.StreamResponse, state: ServiceState, close: CloseView
) -> None:
    """The events of ``close`` until its outcome, the service's shutdown or the client's
    leaving (then without a word: nobody reads)."""
    close_id = close.id
    progress = CloseProgress()
    quiet_since = time.monotonic()
    while True:
        if _gone(request):
            return
        attempts = await state.journal.attempts(close_id)
        fills = await state.journal.fills(close_id)
        events = progress.update(close, attempts, fills, running=state.running(close_id))
        for kind, data in events:
            await response.write(frame(kind, data))
        if progress.finished:
            break
        if state.stopping.is_set():
            shutdown = {"close_id": close_id, "state": close.state, "reason": SHUTTING_DOWN}
            await response.write(frame("shutdown", shutdown))
            break
        if events:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_S:
            await response.write(b": keep-alive\n\n")
            quiet_since = time.monotonic()
        await _pause(state)
        current = await state.journal.get_close(close_id)
        if current is None:
            break
        close = current
    await response.write_eof()
