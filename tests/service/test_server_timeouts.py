"""Slow and incomplete requests are cut off, and connections are limited (GuardedListener).

The API's own app is also served by a :class:`GuardedListener` with short timeouts; the clients
are raw sockets, since an HTTP client library would never send half a request. Nothing
here measures speed: a connection must be closed well within ten times its timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from router.service.server import ConnectionLimits, GuardedListener
from tests.service.conftest import READ, TOKENS, TRADE, Api
from tests.service.processes import ROUTER, read_line, stop

TIMEOUT_S = 0.3
BOUND_S = 10 * TIMEOUT_S
LIMITS = ConnectionLimits(header_timeout_s=TIMEOUT_S, body_timeout_s=TIMEOUT_S, max_connections=8)

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@asynccontextmanager
async def _listening(api: Api, limits: ConnectionLimits) -> AsyncIterator[GuardedListener]:
    """The api fixture's app, also served by a guarded listener."""
    runner = api.client.server.runner
    assert runner is not None
    listener = GuardedListener("127.0.0.1", 0, limits)
    await listener.bind()
    try:
        await listener.serve(runner)
        yield listener
    finally:
        await listener.close()


@pytest.fixture
async def guarded(api: Api) -> AsyncIterator[GuardedListener]:
    async with _listening(api, LIMITS) as listener:
        yield listener


async def _connect(site: GuardedListener) -> Stream:
    return await asyncio.open_connection("127.0.0.1", site.port)


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes the connection, failing past the bound."""
    return await asyncio.wait_for(reader.read(), BOUND_S)


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body: status, headers, body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND_S)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def _get(path: str, token: str = READ) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: router\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_normal_request_is_answered_and_its_connection_kept(
    guarded: GuardedListener,
) -> None:
    reader, writer = await _connect(guarded)
    try:
        writer.write(_get("/v1/venues"))
        status, _, body = await _response(reader)
        assert status == 200
        assert json.loads(body)["venues"]
        # idle longer than the head timeout: an idle keep-alive connection is not a late head
        await asyncio.sleep(3 * TIMEOUT_S)
        writer.write(_get("/healthz"))
        status, _, _ = await _response(reader)
        assert status == 200
    finally:
        _close(writer)


async def test_a_partial_head_is_answered_408_and_closed(guarded: GuardedListener) -> None:
    reader, writer = await _connect(guarded)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: router\r\n")
        answer = await _read_to_end(reader)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
        assert answer.endswith(b'{"error": "request head not received in time"}')
    finally:
        _close(writer)


async def test_a_connection_that_sends_nothing_is_closed(guarded: GuardedListener) -> None:
    reader, writer = await _connect(guarded)
    try:
        assert await _read_to_end(reader) == b""
    finally:
        _close(writer)


async def test_headers_drip_fed_one_by_one_are_cut_off(guarded: GuardedListener) -> None:
    """Each header arrives well within the timeout, the whole head never does."""
    reader, writer = await _connect(guarded)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        closed = asyncio.ensure_future(reader.read())
        sent = 0
        while not closed.done() and sent < BOUND_S / (TIMEOUT_S / 3):
            writer.write(f"X-Drip-{sent}: {sent}\r\n".encode())
            sent += 1
            await asyncio.sleep(TIMEOUT_S / 3)
        assert closed.done(), f"still open after {sent} drip-fed headers"
        assert closed.result().startswith(b"HTTP/1.1 408 ")
    finally:
        _close(writer)


async def test_a_late_second_head_on_a_kept_connection_is_closed(guarded: GuardedListener) -> None:
    reader, writer = await _connect(guarded)
    try:
        writer.write(_get("/healthz"))
        status, _, _ = await _response(reader)
        assert status == 200
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: rou")
        # something was answered on this connection already: closed without a 408
        assert await _read_to_end(reader) == b""
    finally:
        _close(writer)


def _post_head(length: int, token: str = TRADE) -> bytes:
    return (
        "POST /v1/closes HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def test_a_partial_body_is_answered_408_and_closed(
    api: Api, guarded: GuardedListener, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"symbol": "BTC", "side": "sell", "quantity": "2", "idempotency_key": "slow-1"}'
    reader, writer = await _connect(guarded)
    try:
        writer.write(_post_head(len(body)) + body[:20])
        status, _, answer = await _response(reader)
        assert status == 408
        assert json.loads(answer) == {"error": "request timeout"}
        assert await _read_to_end(reader) == b""
    finally:
        _close(writer)
    assert await api.state.journal.close_by_key("slow-1") is None
    assert api.orders_on_venues() == 0
    assert _errors_logged(caplog) == []


async def test_a_partial_body_nobody_reads_is_closed_after_its_answer(
    guarded: GuardedListener, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused before its body is read (no token): answered, then cut off all the same."""
    reader, writer = await _connect(guarded)
    try:
        writer.write(_post_head(100, token="not-a-token") + b'{"symbol": ')
        status, _, _ = await _response(reader)
        assert status == 401
        assert await _read_to_end(reader) == b""
    finally:
        _close(writer)
    assert _errors_logged(caplog) == []


async def test_a_whole_body_sent_in_pieces_in_time_is_served(guarded: GuardedListener) -> None:
    reader, writer = await _connect(guarded)
    try:
        writer.write(_post_head(2))
        await asyncio.sleep(TIMEOUT_S / 3)
        writer.write(b"{")
        await asyncio.sleep(TIMEOUT_S / 3)
        writer.write(b"}")
        status, _, answer = await _response(reader)
        assert status == 422, answer
    finally:
        _close(writer)


async def test_connections_beyond_the_limit_are_answered_503(api: Api) -> None:
    limits = ConnectionLimits(header_timeout_s=30, body_timeout_s=30, max_connections=2)
    held: list[Stream] = []
    async with _listening(api, limits) as site:
        try:
            for _ in range(2):
                reader, writer = await _connect(site)
                held.append((reader, writer))
                writer.write(_get("/healthz"))
                assert (await _response(reader))[0] == 200
            reader, writer = await _connect(site)
            try:
                answer = await _read_to_end(reader)
            finally:
                _close(writer)
            assert answer.startswith(b"HTTP/1.1 503 "), answer[:80]
            assert b"Retry-After: 1" in answer
            assert answer.endswith(b'{"error": "too many connections"}')
            # the admitted connections still work, and a freed place is given again
            reader, writer = held[0]
            writer.write(_get("/healthz"))
            assert (await _response(reader))[0] == 200
            _close(held.pop()[1])
            deadline = asyncio.get_running_loop().time() + BOUND_S
            while site.open_connections >= 2:
                assert asyncio.get_running_loop().time() < deadline, "a closed one still counts"
                await asyncio.sleep(0.01)
            reader, writer = await _connect(site)
            held.append((reader, writer))
            writer.write(_get("/healthz"))
            assert (await _response(reader))[0] == 200
        finally:
            for _, writer in held:
                _close(writer)


def test_router_serve_applies_the_configured_head_timeout(tmp_path: Path) -> None:
    """The real ``router serve``: ``[service] header_timeout_s`` from the environment."""
    log = tmp_path / "serve.log"
    env: dict[str, Any] = {
        **os.environ,
        "ROUTER_API_TOKENS": TOKENS,
        "ROUTER__SERVICE__HEADER_TIMEOUT_S": str(TIMEOUT_S),
    }
    db = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [*ROUTER, "serve", "--scenario", "calm", "--port", "0", "--db", db],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
        )
    try:
        assert process.stdout is not None
        base = read_line(process, process.stdout, log).split()[3]
        port = int(base.rsplit(":", 1)[1])

        async def partial_head() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: router\r\n")
                return await _read_to_end(reader)
            finally:
                writer.close()

        assert asyncio.run(partial_head()).startswith(b"HTTP/1.1 408 ")
    finally:
        stop(process)
    assert process.returncode == 0, log.read_text(encoding="utf-8")[-3000:]
