"""The aiohttp application: every route and the middleware in front of them.

Every answer is JSON (``/metrics`` is Prometheus text, event streams are
``text/event-stream``).
"""

from __future__ import annotations

from aiohttp import web

from router.service.closes import cancel_close, events, get_close, post_close
from router.service.drain import refuse_while_draining
from router.service.hedges import hedges, unwind
from router.service.liquidity import liquidity_handler
from router.service.listing import closes
from router.service.middleware import (
    access,
    authenticate,
    errors,
    name_the_server,
    stamp_headers,
)
from router.service.ops import healthz, metrics, readyz, venues
from router.service.spec import JSON_PATH, YAML_PATH, openapi_json, openapi_yaml
from router.service.state import STATE, ServiceState

MAX_BODY = 64 * 1024


async def _shutdown(app: web.Application) -> None:
    await app[STATE].shutdown()


def build_app(state: ServiceState, *, max_body_bytes: int = MAX_BODY) -> web.Application:
    """The API over ``state``; closes it starts run as background tasks of the loop.

    Request bodies over ``max_body_bytes`` are refused with 413 before they are read.
    """
    app = web.Application(
        middlewares=[access, errors, authenticate, refuse_while_draining],
        client_max_size=max_body_bytes,
    )
    app[STATE] = state
    app.router.add_post("/v1/closes", post_close)
    app.router.add_get("/v1/closes", closes)
    app.router.add_get("/v1/closes/{close_id}", get_close)
    app.router.add_get("/v1/closes/{close_id}/events", events)
    app.router.add_post("/v1/closes/{close_id}/cancel", cancel_close)
    app.router.add_get("/v1/liquidity/{symbol}", liquidity_handler)
    app.router.add_get("/v1/hedges", hedges)
    app.router.add_post("/v1/hedges/{hedge_id}/unwind", unwind)
    app.router.add_get("/v1/venues", venues)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get(JSON_PATH, openapi_json)
    app.router.add_get(YAML_PATH, openapi_yaml)
    app.on_response_prepare.append(stamp_headers)
    name_the_server()
    app.on_shutdown.append(_shutdown)
    return app
