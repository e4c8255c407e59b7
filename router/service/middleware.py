"""Middleware: every failure becomes a JSON answer; every request but ``/healthz`` and the
OpenAPI document needs a bearer token (``read`` for GET, ``trade`` for everything that
acts); every request is counted, timed and logged (one access-log line) under a request id.

Unexpected exceptions become a 500 carrying only an error id; the detail goes to the log
under that id.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import structlog
from aiohttp import web, web_response
from multidict import CIMultiDict

from router.service.auth import Scope, allows, bearer, scope_of
from router.service.metrics import UNMATCHED
from router.service.schemas import ApiError, respond
from router.service.spec import JSON_PATH, YAML_PATH
from router.service.state import state_of

log = logging.getLogger(__name__)
access_log = structlog.wrap_logger(
    logging.getLogger("router.access"),
    processors=[structlog.stdlib.render_to_log_kwargs],
    wrapper_class=structlog.stdlib.BoundLogger,
)
"""One line per request: structlog fields handed to the standard ``router.access`` logger
as record attributes (``router serve`` renders them as JSON or key=value lines)."""

OPEN_PATHS = frozenset({"/healthz", JSON_PATH, YAML_PATH})
CHALLENGE = 'Bearer realm="router"'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})
"""Headers of an exception's own text body, replaced by the JSON answer's."""


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON answer without internals."""
    try:
        return await handler(request)
    except ApiError as exc:
        return respond(exc.body, exc.status, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # keep what the exception says beyond its text body, such as a 405's ``Allow``
        kept = CIMultiDict(
            (name, value) for name, value in exc.headers.items() if name.lower() not in BODY_HEADERS
        )
        return respond({"error": exc.reason.lower()}, exc.status, kept)
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
        return respond({"error": "internal error", "id": error_id}, 500)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer tokens: ``read`` for GET, ``trade`` for everything that acts."""
    if request.path in OPEN_PATHS:
        return await handler(request)
    granted = scope_of(bearer(request.headers.get("Authorization")), state_of(request).tokens)
    if granted is None:
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": CHALLENGE})
    needed: Scope = "read" if request.method in ("GET", "HEAD") else "trade"
    if not allows(granted, needed):
        raise ApiError(403, "forbidden: this endpoint needs a trade token")
    return await handler(request)


REQUEST_ID = web.RequestKey("request_id", str)
"""Where the access middleware keeps the request's id."""
REQUEST_ID_HEADER = "X-Request-Id"
SERVER = "router"
CLIENT_GONE = 499
"""The status logged when the answer was never finished (the client went away, or the
service stopped first)."""
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII)
_SECRET_PARAMETER = re.compile(r"token|secret|password|key|auth|signature|sig", re.IGNORECASE)
MAX_LOGGED_PATH = 300


def route_of(request: web.Request) -> str:
    """The route template that matched (``/v1/closes/{close_id}``), never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def logged_path(request: web.Request) -> str:
    """The path and query as sent, with the values of credential-like parameters blanked
    and the whole cut to a bounded length."""
    path = request.rel_url.raw_path
    if request.query:
        pairs = [
            f"{quote(key, safe='')}="
            + ("***" if _SECRET_PARAMETER.search(key) else quote(value, safe=""))
            for key, value in request.query.items()
        ]
        path = f"{path}?{'&'.join(pairs)}"
    return path[:MAX_LOGGED_PATH]


def request_id_of(request: web.Request) -> str:
    """The client's ``X-Request-Id`` when it is short and plain, else a new id."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


@web.middleware
async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id, then count, time and log it once it is answered."""
    started = time.monotonic()
    request_id = request_id_of(request)
    request[REQUEST_ID] = request_id
    status = 500
    try:
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_GONE
        raise
    finally:
        seconds = time.monotonic() - started
        route = route_of(request)
        state_of(request).metrics.record_request(request.method, route, status, seconds)
        access_log.info(
            "request",
            method=request.method[:16],
            route=route,
            path=logged_path(request),
            status=status,
            duration_ms=round(seconds * 1000, 3),
            remote=request.remote,
            request_id=request_id,
        )


def name_the_server() -> None:
    """Make ``router`` the HTTP library's default ``Server`` header as well.

    :func:`stamp_headers` names every answer the application gives; an answer the HTTP
    parser gives before any application sees the request (a malformed request line, an
    unknown method) would otherwise carry the library's name and version.
    """
    setattr(web_response, "SERVER_SOFTWARE", SERVER)  # noqa: B010 (not re-exported)


async def stamp_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer names the server ``router`` (not the HTTP
    library and its version) and carries the request's id."""
    response.headers["Server"] = SERVER
    response.headers[REQUEST_ID_HEADER] = request.get(REQUEST_ID) or uuid.uuid4().hex
