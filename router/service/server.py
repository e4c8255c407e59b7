"""The listening socket of ``router serve``: aiohttp behind limits it does not have itself.

aiohttp reads a request's head and body for as long as the client cares to send them, and
accepts every connection. A client that sends its headers one byte at a time, or a body
that never arrives, would hold a connection (and its memory) forever, and enough of them
would starve the service. :class:`GuardedListener` serves a ``web.AppRunner`` (in place
of ``web.TCPSite``) with four bounds:

* **Head timeout.** A request's head (request line and headers, up to the blank line)
  must arrive whole within ``header_timeout_s`` of the connection opening, or of the
  first byte of the next request on a keep-alive connection. Otherwise the connection is
  closed (with a 408 if nothing was answered on it yet, so a slow but honest client
  learns why).
* **Body timeout.** Once the head has arrived, the body must arrive whole within
  ``body_timeout_s``. Otherwise reading it fails with :class:`BodyTimeout`, an
  ``HTTPRequestTimeout`` the application answers 408 like any other HTTP error, and the
  connection is closed after that answer.
* **Keep-alive idle timeout.** aiohttp's own ``keepalive_timeout`` (an ``AppRunner``
  setting) closes a connection that waits idle for its next request.
* **Connection limit.** Beyond ``max_connections`` open at once, a new connection is
  answered 503 and closed before anything is read from it.

How: the listener binds with ``loop.create_server`` (not serving until the runner is
ready) and a protocol factory that wraps each connection's aiohttp protocol
(``runner.server()``, a ``RequestHandler``) in a :class:`_GuardedConnection`. The wrapper
counts connections, passes every event through, and watches the bytes only while a head
is due: a timer runs from the head's first byte (or the accept) until the blank line
``\\r\\n\\r\\n`` ends it. The listener also wraps the server's request handler, so the
connection learns when aiohttp has parsed a request and hands it over: the head timer is
cancelled for certain then, and the body timer runs until the request's payload reaches
its end (``StreamReader.on_eof``). After that the connection is idle until the next byte,
which arms the head timer again.

A request pipelined behind another one may have part of its head read before the earlier
request has finished; until a new byte arrives, that part is bounded by the keep-alive
idle timeout rather than the head timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

END_OF_HEAD = b"\r\n\r\n"

Phase = Literal["head", "waiting", "body", "idle", "closing"]
"""Where a connection is: reading a head; head read, not yet handed over; reading the
body of the request being handled; nothing due until the client sends again; closing
after a late body."""


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds a :class:`GuardedListener` enforces (``[service]`` in the configuration)."""

    header_timeout_s: float
    body_timeout_s: float
    max_connections: int


class ListenError(RuntimeError):
    """The address cannot be listened on (in use, not local, not resolvable, no rights)."""


class BodyTimeout(web.HTTPRequestTimeout):
    """The request's body did not arrive within ``body_timeout_s``."""


def _reason(exc: OSError) -> str:
    """Why the address cannot be listened on: "Address already in use", not asyncio's
    sentence around it."""
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return exc.strerror or str(exc)
    return os.strerror(exc.errno)


def _raw_response(status: int, reason: str, error: str, *headers: str) -> bytes:
    """A whole HTTP/1.1 answer with a JSON error body, for a connection the application
    never saw; the connection is closed after it."""
    body = json.dumps({"error": error}).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


HEAD_TIMEOUT_RESPONSE = _raw_response(408, "Request Timeout", "request head not received in time")
BUSY_RESPONSE = _raw_response(503, "Service Unavailable", "too many connections", "Retry-After: 1")


class GuardedListener:
    """Listen on ``host:port`` and serve an ``AppRunner`` within ``limits`` (see the
    module's docstring).

    :meth:`bind` claims the address without accepting anything yet, so a port in use
    fails before the journal and the venues are opened; :meth:`serve` starts accepting
    for the runner's server; :meth:`close` stops accepting (connections already open are
    the runner's to shut down).
    """

    def __init__(
        self, host: str, port: int, limits: ConnectionLimits, *, backlog: int = 128
    ) -> None:
        self._host = host
        self._port = port
        self._backlog = backlog
        self.limits = limits
        self._listening: asyncio.Server | None = None
        self._server: web.Server | None = None
        self._guards: dict[RequestHandler, _GuardedConnection] = {}
        self._open = 0
        self._full = False

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound addresses, ``(host, port)`` each (the chosen port for port 0)."""
        if self._listening is None:
            return []
        return [
            (str(name[0]), int(name[1]))
            for name in (sock.getsockname() for sock in self._listening.sockets)
        ]

    @property
    def port(self) -> int:
        """The port listened on (the one chosen for port 0 once bound)."""
        bound = self.addresses
        return bound[0][1] if bound else self._port

    @property
    def open_connections(self) -> int:
        """Connections currently admitted (refused ones are not counted)."""
        return self._open

    async def bind(self) -> None:
        """Claim the address; :class:`ListenError` when it cannot be listened on."""
        loop = asyncio.get_running_loop()
        try:
            self._listening = await loop.create_server(
                self._connection,
                self._host,
                self._port,
                backlog=self._backlog,
                start_serving=False,
            )
        except OSError as exc:
            host = f"[{self._host}]" if ":" in self._host else self._host
            raise ListenError(f"cannot listen on {host}:{self._port}: {_reason(exc)}") from exc

    async def serve(self, runner: web.BaseRunner) -> None:
        """Start accepting connections for ``runner`` (set up) on the bound address."""
        assert self._listening is not None, "bind() first"
        server = runner.server
        assert server is not None, "the runner is set up before it is served"
        server.request_handler = self._watched(server.request_handler)
        self._server = server
        await self._listening.start_serving()

    async def close(self) -> None:
        """Stop accepting connections (again: nothing)."""
        listening, self._listening = self._listening, None
        if listening is not None:
            listening.close()
            await listening.wait_closed()

    def _connection(self) -> _GuardedConnection:
        assert self._server is not None, "connections are accepted once served"
        return _GuardedConnection(self, self._server)

    def _watched(
        self, handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
        """``handler``, telling the request's connection when it starts and ends."""

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            guard = self._guards.get(request.protocol)
            if guard is None:
                return await handler(request)
            guard.request_started(request.content)
            try:
                return await handler(request)
            finally:
                guard.request_finished(request.content)

        return handle

    def _admit(self, connection: _GuardedConnection, server: web.Server) -> RequestHandler | None:
        """aiohttp's protocol for a new connection, or None when the limit is reached."""
        if self._open >= self.limits.max_connections:
            if not self._full:
                log.warning(
                    "connection limit reached (%d open): new connections are answered 503",
                    self._open,
                )
                self._full = True
            return None
        handler = server()
        self._open += 1
        self._guards[handler] = connection
        return handler

    def _release(self, handler: RequestHandler) -> None:
        if self._guards.pop(handler, None) is not None:
            self._open -= 1
            self._full = False


class _GuardedConnection(asyncio.Protocol):
    """One client connection: aiohttp's protocol for it, with the head and body timers."""

    def __init__(self, listener: GuardedListener, server: web.Server) -> None:
        self._listener = listener
        self._server = server
        self._handler: RequestHandler | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._phase: Phase = "head"
        self._tail = b""
        self._head_bytes = 0
        self._answered = False
        self._payload: StreamReader | None = None
        self._handling = False
        self._body_late = False

    # ------------------------------------------------------------ transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        handler = self._listener._admit(self, self._server)
        if handler is None:
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        self._handler = handler
        handler.connection_made(transport)
        self._arm(self._listener.limits.header_timeout_s, self._head_late)

    def data_received(self, data: bytes) -> None:
        if self._handler is None:
            return
        if self._phase == "idle" and data:
            self._phase, self._tail, self._head_bytes = "head", b"", 0
            self._arm(self._listener.limits.header_timeout_s, self._head_late)
        if self._phase == "head":
            seen = self._tail + data
            self._head_bytes += len(data)
            if END_OF_HEAD in seen:
                self._cancel()
                self._phase = "waiting"
            else:
                self._tail = seen[-(len(END_OF_HEAD) - 1) :]
        self._handler.data_received(data)

    def eof_received(self) -> None:
        if self._handler is not None:
            self._handler.eof_received()

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        handler, self._handler = self._handler, None
        if handler is not None:
            self._listener._release(handler)
            handler.connection_lost(exc)

    # ------------------------------------------------------------ request events

    def request_started(self, payload: StreamReader) -> None:
        """aiohttp parsed a request's head and hands the request over."""
        self._cancel()
        self._answered = True
        self._handling = True
        self._payload = payload
        self._body_late = False
        if payload.is_eof():
            self._phase = "idle"
            return
        self._phase = "body"
        self._arm(self._listener.limits.body_timeout_s, self._body_late_now)
        payload.on_eof(self._body_done)

    def request_finished(self, payload: StreamReader) -> None:
        """The handler returned (aiohttp writes its answer next)."""
        self._handling = False
        if self._body_late:
            # the rest of the body will not be waited for: no lingering read after the 408
            payload.feed_eof()

    def _body_done(self) -> None:
        if self._phase == "body":
            self._cancel()
            self._phase = "idle"

    # ------------------------------------------------------------ timers

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_late(self) -> None:
        self._timer = None
        if self._handler is None or self._phase != "head":
            return
        transport = self._transport
        if not self._answered and self._head_bytes and transport and not transport.is_closing():
            transport.write(HEAD_TIMEOUT_RESPONSE)
        self._handler.force_close()

    def _body_late_now(self) -> None:
        self._timer = None
        handler, payload = self._handler, self._payload
        if handler is None or payload is None or self._phase != "body":
            return
        self._phase = "closing"
        handler.close()  # nothing more is read; the connection closes after this request
        if self._handling:
            self._body_late = True
            payload.set_exception(BodyTimeout())
        else:
            payload.feed_eof()  # ends aiohttp's lingering read of a body nobody wanted
