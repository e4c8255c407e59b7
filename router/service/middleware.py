"""Middleware: every failure becomes a JSON answer; every request but ``/healthz`` needs a
bearer token (``read`` for GET, ``trade`` for everything that acts).

Unexpected exceptions become a 500 carrying only an error id; the detail goes to the log
under that id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from router.service.auth import Scope, allows, bearer, scope_of
from router.service.schemas import ApiError, respond
from router.service.state import state_of

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz"})
CHALLENGE = 'Bearer realm="router"'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        return respond({"error": exc.reason.lower()}, exc.status)
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
