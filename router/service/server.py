"""The listening socket of ``router serve``: aiohttp behind limits it does not have itself.

aiohttp reads a request's head and body for as long as the client cares to send them, and
accepts every connection. A client that sends its headers one byte at a time, or a body
that never arrives, would hold a connection (and its memory) forever, and enough of them
would starve the service. :class:`GuardedSite` is a drop-in for ``web.TCPSite`` that
serves the same ``web.AppRunner`` with four bounds:

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

How: the site listens with ``loop.create_server`` and a protocol factory that wraps each
connection's aiohttp protocol (``runner.server()``, a ``RequestHandler``) in a
:class:`_GuardedConnection`. The wrapper counts connections, passes every event through,
and watches the bytes only while a head is due: a timer runs from the head's first
byte (or the accept) until the blank line ``\\r\\n\\r\\n`` ends it. The site also wraps
the server's request handler, so the connection learns when aiohttp has parsed a request
and hands it over: the head timer is cancelled for certain then, and the body timer runs
until the request's payload reaches its end (``StreamReader.on_eof``). After that the
connection is idle until the next byte, which arms the head timer again.

A request pipelined behind another one may have part of its head read before the earlier
request has finished; until a new byte arrives, that part is bounded by the keep-alive
idle timeout rather than the head timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from yarl import URL

log = logging.getLogger(__name__)

END_OF_HEAD = b"\r\n\r\n"

Phase = Literal["head", "waiting", "body", "idle", "closing"]
"""Where a connection is: reading a head; head read, not yet handed over; reading the
body of the request being handled; nothing due until the client sends again; closing
after a late body."""


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds a :class:`GuardedSite` enforces (``[service]`` in the configuration)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_connections: int = 256


class ListenError(RuntimeError):
    """The address cannot be listened on (in use, not local, not resolvable, no rights)."""


class BodyTimeout(web.HTTPRequestTimeout):
    """The request's body did not arrive within ``body_timeout_s``."""


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


class GuardedSite(web.BaseSite):
    """Serve ``runner`` on ``host:port`` within ``limits`` (see the module's docstring).

    :meth:`start` raises :class:`ListenError` when the address cannot be listened on.
    """

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        limits: ConnectionLimits,
        *,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self.limits = limits
        self._guards: dict[RequestHandler, _GuardedConnection] = {}
        self._open = 0
        self._full = False
        self._listening: asyncio.Server | None = None

    @property
    def name(self) -> str:
        return str(URL.build(scheme="http", host=self._host, port=self._port))

    @property
    def port(self) -> int:
        """The port listened on (the one chosen for port 0 once started)."""
        if self._listening is not None and self._listening.sockets:
            bound: int = self._listening.sockets[0].getsockname()[1]
            return bound
        return self._port

    @property
    def open_connections(self) -> int:
        """Connections currently admitted (refused ones are not counted)."""
        return self._open

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None, "the runner is set up before its site starts"
        server.request_handler = self._watched(server.request_handler)
        loop = asyncio.get_running_loop()
        try:
            self._listening = await loop.create_server(
                lambda: _GuardedConnection(self, server),
                self._host,
                self._port,
                backlog=self._backlog,
            )
        except OSError as exc:
            host = f"[{self._host}]" if ":" in self._host else self._host
            where = f"{host}:{self._port}"
            raise ListenError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
        self._server = self._listening

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

    def __init__(self, site: GuardedSite, server: web.Server) -> None:
        self._site = site
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
        handler = self._site._admit(self, self._server)
        if handler is None:
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        self._handler = handler
        handler.connection_made(transport)
        self._arm(self._site.limits.header_timeout_s, self._head_late)

    def data_received(self, data: bytes) -> None:
        if self._handler is None:
            return
        if self._phase == "idle" and data:
            self._phase, self._tail, self._head_bytes = "head", b"", 0
            self._arm(self._site.limits.header_timeout_s, self._head_late)
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
            self._site._release(handler)
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
        self._arm(self._site.limits.body_timeout_s, self._body_late_now)
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
