"""The aiohttp application: routes, authentication and error handling.

Every answer is JSON (``/metrics`` is Prometheus text). Unexpected exceptions become a
500 carrying only an error id; the detail goes to the log under that id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError
from sqlalchemy import text

from router.engine.errors import CloseRefused
from router.engine.ports import lists
from router.engine.request import CloseRequest
from router.service.auth import Scope, allows, bearer, scope_of
from router.service.events import close_events
from router.service.liquidity import read_liquidity
from router.service.schemas import (
    ApiError,
    close_json,
    field_error,
    hedge_json,
    parse_body,
    respond,
    validation_error,
)
from router.service.state import ServiceState

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
OPEN_PATHS = frozenset({"/healthz"})
STATE: web.AppKey[ServiceState] = web.AppKey("state", ServiceState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _state(request: web.Request) -> ServiceState:
    return request.app[STATE]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON answer without internals."""
    try:
        return await handler(request)
    except ApiError as exc:
        return respond(exc.body, exc.status)
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
    granted = scope_of(bearer(request.headers.get("Authorization")), _state(request).tokens)
    if granted is None:
        raise ApiError(401, "unauthorized")
    needed: Scope = "read" if request.method in ("GET", "HEAD") else "trade"
    if not allows(granted, needed):
        raise ApiError(403, "forbidden: this endpoint needs a trade token")
    return await handler(request)


def _check_listed(state: ServiceState, close: CloseRequest) -> None:
    unknown = [v for v in close.venues or [] if v not in state.adapters]
    if unknown:
        raise field_error("venues", f"unknown venues: {', '.join(unknown)}")
    names = close.venues or list(state.adapters)
    if not any(lists(state.adapters[n], close.spot_symbol) for n in names):
        raise field_error("symbol", f"{close.spot_symbol} is not listed by any venue")


async def post_close(request: web.Request) -> web.Response:
    state = _state(request)
    data = parse_body(await request.read())
    try:
        close = CloseRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    _check_listed(state, close)
    key = close.idempotency_key
    existing = await state.journal.close_by_key(key)
    if existing is not None:
        return respond({"close_id": existing.id, "state": existing.state}, 200)
    task = state.start(close)
    close_id = await state.wait_for_id(key, task)
    if close_id is None:
        if task.done():
            refused = None if task.cancelled() else task.exception()
            if isinstance(refused, CloseRefused):
                raise field_error("quantity", str(refused))
            raise ApiError(503, "the close could not be started; retry with the same key")
        return respond({"close_id": None, "state": "PENDING", "idempotency_key": key}, 202)
    current = await state.journal.get_close(close_id)
    return respond({"close_id": close_id, "state": current.state if current else "RUNNING"}, 202)


async def get_close(request: web.Request) -> web.Response:
    state = _state(request)
    close_id = request.match_info["close_id"]
    close = await state.journal.get_close(close_id)
    if close is None:
        raise ApiError(404, "unknown close")
    attempts = await state.journal.attempts(close_id)
    fills = await state.journal.fills(close_id)
    return respond(close_json(close, attempts, fills, running=state.running(close_id)))


async def events(request: web.Request) -> web.StreamResponse:
    return await close_events(request, _state(request))


async def cancel_close(request: web.Request) -> web.Response:
    state = _state(request)
    close_id = request.match_info["close_id"]
    close = await state.journal.get_close(close_id)
    if close is None:
        raise ApiError(404, "unknown close")
    if close.outcome is not None:
        raise ApiError(409, "the close has already finished", outcome=close.outcome)
    cancel: Callable[[str], None] | None = getattr(state.engine, "cancel", None)
    if cancel is None:
        raise ApiError(409, "cancel is not supported for a running close")
    cancel(close_id)
    return respond({"close_id": close_id, "state": close.state, "cancel_requested": True}, 202)


async def liquidity(request: web.Request) -> web.Response:
    payload = await read_liquidity(
        _state(request), request.match_info["symbol"], dict(request.query)
    )
    return respond(payload)


async def hedges(request: web.Request) -> web.Response:
    open_only = request.query.get("open", "").lower() in ("1", "true", "yes")
    rows = await _state(request).journal.hedges(open_only=open_only)
    return respond({"hedges": [hedge_json(row) for row in rows]})


async def unwind(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        hedge_id = int(request.match_info["hedge_id"])
    except ValueError:
        raise ApiError(404, "unknown hedge") from None
    data = parse_body(await request.read(), optional=True)
    unknown = sorted(set(data) - {"quantity", "with_spot"})
    if unknown:
        raise field_error(unknown[0], "unknown field")
    quantity: Decimal | None = None
    if "quantity" in data:
        quantity = _positive(data["quantity"])
    with_spot = data.get("with_spot", False)
    if not isinstance(with_spot, bool):
        raise field_error("with_spot", "must be true or false")
    if hedge_id not in {h["id"] for h in await state.journal.hedges()}:
        raise ApiError(404, "unknown hedge")
    unwound = await state.engine.unwind(hedge_id, quantity, with_spot=with_spot)
    return respond({"hedge_id": hedge_id, "unwound": unwound})


def _positive(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw)) if isinstance(raw, (str, int, Decimal)) else None
    except ArithmeticError:
        value = None
    if isinstance(raw, bool) or value is None or not value.is_finite() or value <= 0:
        raise field_error("quantity", "must be a positive decimal")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        raise field_error("quantity", "at most 18 decimal places")
    return value


async def venues(request: web.Request) -> web.Response:
    state = _state(request)
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
    state = _state(request)
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
    state = _state(request)
    body = state.metrics.render(state.health)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _shutdown(app: web.Application) -> None:
    await app[STATE].shutdown()


def build_app(state: ServiceState, *, max_body_bytes: int = MAX_BODY) -> web.Application:
    """The API over ``state``; closes it starts run as background tasks of the loop.

    Request bodies over ``max_body_bytes`` are refused with 413 before they are read.
    """
    app = web.Application(middlewares=[errors, authenticate], client_max_size=max_body_bytes)
    app[STATE] = state
    app.router.add_post("/v1/closes", post_close)
    app.router.add_get("/v1/closes/{close_id}", get_close)
    app.router.add_get("/v1/closes/{close_id}/events", events)
    app.router.add_post("/v1/closes/{close_id}/cancel", cancel_close)
    app.router.add_get("/v1/liquidity/{symbol}", liquidity)
    app.router.add_get("/v1/hedges", hedges)
    app.router.add_post("/v1/hedges/{hedge_id}/unwind", unwind)
    app.router.add_get("/v1/venues", venues)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.on_shutdown.append(_shutdown)
    return app
