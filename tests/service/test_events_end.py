"""How a close's event stream ends other than with the outcome: a client that leaves ends
it quietly (no error logged), and a service shutting down says so in a last event."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest

from router.engine.request import CloseRequest
from router.journal.records import CloseView, NewClose
from tests.service.conftest import READ, Api
from tests.service.test_events import read_events


async def _unfinished_close(api: Api, key: str) -> CloseView:
    """A close in the journal that nothing runs: its stream stays open until it ends."""
    request = _request(api, key)
    close, created = await api.state.journal.create_close(
        NewClose(key, "BTC", "sell", Decimal(1), request.model_dump(mode="json"))
    )
    assert created
    return close


def _request(api: Api, key: str) -> CloseRequest:
    return api.world.request(quantity="1", idempotency_key=key)


async def _finish(api: Api, key: str) -> None:
    """Run the close to its outcome (as a router resuming it would)."""
    result = await api.world.engine.close(_request(api, key))
    assert result.outcome == "FLAT"


def _as_served(api: Api) -> None:
    """Handlers run on after their client leaves, as under ``router serve`` (aiohttp's
    default; its test server cancels them instead)."""
    server = api.client.server.runner.server
    assert server is not None
    server.handler_cancellation = False


async def _open_stream(api: Api, close_id: str) -> tuple[asyncio.StreamReader, Any]:
    """A raw connection reading the close's stream, past its first event."""
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        (
            f"GET /v1/closes/{close_id}/events HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Authorization: Bearer {READ}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 200"), head
    seen = b""
    while b"event: close" not in seen:
        seen += await asyncio.wait_for(reader.read(4096), 30)
    return reader, writer


async def test_a_client_that_leaves_mid_stream_logs_no_error(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    close = await _unfinished_close(api, "events-leave-1")
    _as_served(api)
    caplog.set_level(logging.INFO)
    _, writer = await _open_stream(api, close.id)
    writer.close()
    await writer.wait_closed()
    # the stream ends on its own once the client has gone (its connection is let go) ...
    server = api.client.server.runner.server
    assert server is not None
    for _ in range(1000):
        if not server.connections:
            break
        await asyncio.sleep(0.01)
    assert server.connections == []
    # ... and shutting the service down afterwards finds nothing to write to either
    await api.client.server.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    await _finish(api, close.idempotency_key)


async def test_a_stream_open_at_shutdown_gets_a_shutdown_event(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    close = await _unfinished_close(api, "events-shutdown-1")
    _as_served(api)
    response = await api.get(f"/v1/closes/{close.id}/events")
    assert response.status == 200
    first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 30)
    assert first.startswith(b"event: close\n")
    caplog.set_level(logging.INFO)
    closing = asyncio.create_task(api.client.server.close())
    events = await read_events(response)
    await closing
    assert events == [
        (
            "shutdown",
            {"close_id": close.id, "state": close.state, "reason": "service shutting down"},
        )
    ]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    await _finish(api, close.idempotency_key)
