"""The aiohttp application of one simulated venue: REST, websocket streams and faults.

Every Binance host name lands on the venue's single port; the request path (and, for
websockets, the Host header) picks the API. Faults are decided per request from the
venue's :class:`~router.sim.faults.FaultInjector` before the endpoint runs (outages,
429 / 418, latency) or after it ran (timeout after accept, garbled or nonsense
answers), so an order hit by a "timeout" really is on the book.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

from aiohttp import web

from router.sim import api_futures, api_spot, errors
from router.sim.auth import Credentials, parse_params, verify_signed
from router.sim.faults import nonsense
from router.sim.routes import Call, Route
from router.sim.scenario import FaultKind, FaultSpec
from router.sim.stream import DepthHub
from router.sim.venue import SimVenue

log = logging.getLogger(__name__)

ROUTES: dict[tuple[str, str], Route] = {**api_spot.routes.table, **api_futures.routes.table}
VENUE_KEY = web.AppKey("venue", SimVenue)
HUB_KEY = web.AppKey("hub", DepthHub)
OUTAGE_HTML = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    "<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    "</body>\r\n</html>\r\n"
)
GARBLED_BODY = '{"symbol":"BTCUSDT","orderId":\x00\x17<html>upstream reset'
MAX_BODY = 64 * 1024


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _error(exc: errors.ApiError, headers: dict[str, str] | None = None) -> web.Response:
    return _json(exc.body(), exc.status, headers)


class VenueApp:
    """Request handling for one venue."""

    def __init__(self, venue: SimVenue, hub: DepthHub) -> None:
        self.venue = venue
        self.hub = hub
        self._latency_rng = random.Random(venue.seed + 7919)

    def _latency_s(self, faults: dict[FaultKind, FaultSpec]) -> float:
        spec = self.venue.spec
        ms = float(spec.latency_ms)
        if spec.latency_jitter_ms:
            ms += self._latency_rng.uniform(0, float(spec.latency_jitter_ms))
        if "latency" in faults:
            ms += float(faults["latency"].latency_ms)
        return ms / 1000

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0] if request.host else ""
        path = request.path
        if request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, host, path)
        route = ROUTES.get((request.method, path))
        if route is None:
            return web.Response(
                status=404, text="<html><body>404 Not Found</body></html>", content_type="text/html"
            )
        faults = self.venue.faults.pick(request.method, path, self.venue.clock.now())
        delay = self._latency_s(faults)
        if delay > 0:
            await asyncio.sleep(delay)
        rejected = self._reject_before(faults)
        if rejected is not None:
            return rejected
        body = await request.text() if request.can_read_body else ""
        try:
            params = parse_params(request.query_string, body)
            if route.signed:
                verify_signed(
                    api_key=request.headers.get("X-MBX-APIKEY"),
                    query=request.query_string,
                    body=body,
                    params=params,
                    credentials=Credentials(self.venue.api_key, self.venue.secret),
                    server_ms=self.venue.wall_ms,
                )
            partial = faults.get("partial_fill")
            call = Call(
                self.venue,
                params,
                fill_ratio=partial.fill_ratio if partial is not None else None,
                force_insufficient="insufficient_balance" in faults,
            )
            result = route.handler(call)
        except errors.ApiError as exc:
            return _error(exc)
        except Exception:
            log.exception(
                "simulated venue %s failed on %s %s", self.venue.name, request.method, path
            )
            return _error(errors.unknown_error())
        return self._answer_after(request, route, faults, result)

    def _reject_before(self, faults: dict[FaultKind, FaultSpec]) -> web.Response | None:
        if "outage" in faults:
            return web.Response(status=503, text=OUTAGE_HTML, content_type="text/html")
        if "ip_ban" in faults:
            spec = faults["ip_ban"]
            until = self.venue.wall_ms() + spec.retry_after_s * 1000
            return _json(
                {
                    "code": -1003,
                    "msg": f"Way too many requests; IP(127.0.0.1) banned until {until}. "
                    "Please use the websocket for live updates to avoid bans.",
                },
                418,
                {"Retry-After": str(spec.retry_after_s)},
            )
        if "rate_limit" in faults:
            spec = faults["rate_limit"]
            return _error(errors.too_many_requests(), {"Retry-After": str(spec.retry_after_s)})
        return None

    def _answer_after(
        self,
        request: web.Request,
        route: Route,
        faults: dict[FaultKind, FaultSpec],
        result: Any,
    ) -> web.StreamResponse:
        timeout = faults.get("timeout_after_accept")
        if timeout is not None and route.places_order:
            if timeout.mode == "drop":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=504)
            return _error(errors.execution_unknown())
        if "garbled" in faults:
            return web.Response(status=200, text=GARBLED_BODY, content_type="application/json")
        if "nonsense" in faults:
            return _json(nonsense(result, faults["nonsense"].variant))
        return _json(result)

    async def _websocket(self, request: web.Request, host: str, path: str) -> web.StreamResponse:
        parts = [p for p in path.split("/") if p]
        if host == "stream.binance.com" and parts[:1] == ["ws"] and len(parts) <= 2:
            return await self.hub.serve(request, "spot")
        if (
            host == "fstream.binance.com"
            and len(parts) <= 3
            and (parts[:2] in (["public", "ws"], ["market", "ws"]) or parts[:1] == ["ws"])
        ):
            if "linear" not in self.venue.markets:
                return web.Response(status=404)
            return await self.hub.serve(request, "linear")
        return web.Response(status=404)


def build_app(venue: SimVenue, hub: DepthHub) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    handler = VenueApp(venue, hub)
    app[VENUE_KEY] = venue
    app[HUB_KEY] = hub
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    return app
