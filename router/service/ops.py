"""What an operator and a load balancer read: venues, liveness, readiness, metrics."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from router.service.readiness import age_text
from router.service.schemas import respond
from router.service.state import state_of

log = logging.getLogger(__name__)


async def venues(request: web.Request) -> web.Response:
    """Each venue: its circuit, when it last answered and its last failure (of any
    request: loads, reads, orders, probes; the circuit's own when the venue was asked
    nothing that failed), its markets."""
    state = state_of(request)
    rows = []
    for name, adapter in state.adapters.items():
        breaker = state.health[name]
        answers = adapter.answers
        rows.append(
            {
                "name": name,
                "circuit": breaker.state.value,
                "open_until": breaker.open_until,
                "last_error": answers.last_error or breaker.last_error,
                "last_error_age_s": age_text(answers.error_age()),
                "last_answer_age_s": age_text(answers.answer_age()),
                "markets": sorted(m.symbol for m in adapter.markets()),
                "loaded": adapter.loaded,
                "load_error": adapter.load_error,
            }
        )
    return respond({"venues": rows})


async def healthz(request: web.Request) -> web.Response:
    return respond({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the journal answers and at least one loaded venue answered recently (see
    :mod:`router.service.readiness`), else 503; ``venues`` says why for each venue."""
    state = state_of(request)
    checks: dict[str, bool] = {}
    try:
        async with state.journal.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["journal"] = True
    except Exception:
        log.warning("readiness: journal unreachable", exc_info=True)
        checks["journal"] = False
    # ready with one venue loaded and answering; the venues still loading (in the
    # background) are named
    answering = await state.readiness.check(state.adapters)
    checks["venues"] = any(v["answering"] for v in answering.values())
    loading = {name: a.load_error for name, a in state.adapters.items() if not a.loaded}
    ready = all(checks.values())
    body = {"ready": ready, "checks": checks, "loading": loading, "venues": answering}
    return respond(body, 200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    state = state_of(request)
    running = {t for t in (*state.tasks.values(), *state.pending.values()) if not t.done()}
    hedges = await state.journal.hedges(open_only=True)
    body = state.metrics.render(state.health, closes_running=len(running), hedges_open=len(hedges))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
