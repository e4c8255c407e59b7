"""While the service drains before shutdown (:meth:`ServiceState.drain`), requests that
act are refused with 503 and a ``Retry-After``: the client sends them to another router
(or again once this one is back). Reads are still answered until the service stops."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from router.service.schemas import ApiError
from router.service.state import state_of

READS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_S = 1
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refuse_while_draining(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in READS and state_of(request).draining.is_set():
        raise ApiError(
            503,
            "the service is shutting down: retry on another router",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    return await handler(request)
