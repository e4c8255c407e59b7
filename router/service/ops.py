"""What an operator and a load balancer read: venues, liveness, readiness, metrics."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from router.service.schemas import respond
from router.service.state import state_of

log = logging.getLogger(__name__)


async def venues(request: web.Request) -> web.Response:
    state = state_of(request)
    rows = []
    for name, adapter in state.adapters.items():
        breaker = state.health[name]
        rows.append(
            {
                "name": name,
                "circuit": breaker.state.value,
                "open_until": breaker.open_until,
                "last_error": breaker.last_error,
                "markets": sorted(m.symbol for m in adapter.markets()),
                "loaded": adapter.loaded,
                "load_error": adapter.load_error,
            }
        )
    return respond({"venues": rows})


async def healthz(request: web.Request) -> web.Response:
    return respond({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = state_of(request)
    checks: dict[str, bool] = {}
    try:
        async with state.journal.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["journal"] = True
    except Exception:
        log.warning("readiness: journal unreachable", exc_info=True)
        checks["journal"] = False
    # ready with one venue loaded; the venues still loading (in the background) are named
    checks["venues"] = any(a.loaded for a in state.adapters.values())
    loading = {name: a.load_error for name, a in state.adapters.items() if not a.loaded}
    ready = all(checks.values())
    return respond({"ready": ready, "checks": checks, "loading": loading}, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    state = state_of(request)
    body = state.metrics.render(state.health)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
