"""Prometheus metrics of one application, kept in their own registry.

Orders are counted by the engine's order observer (:mod:`router.engine.observer`) when
they are sent and when their answer is known, whatever sent them (a close, a hedge, an
unwind); closes when they finish; HTTP requests by the access middleware. Every
duration is wall-clock time (``time.monotonic``), never the engine's clock, which runs
fast under a simulation. ``docs/api.md`` lists every metric with its labels.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from router.venues.health import CircuitBreaker, CircuitState

CIRCUIT_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}
TIME_TO_FLAT_BUCKETS = (
    0.1,
    0.5,
    1,
    5,
    15,
    30,
    60,
    120,
    300,
    600,
    1200,
    1800,
    3600,
    float("inf"),
)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, float("inf"))
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 or 405)."""


def method_label(method: str) -> str:
    """The method, or ``other`` for anything unusual (labels stay few)."""
    return method if method in HTTP_METHODS else "other"


class Metrics:
    """Closes, orders, venues and HTTP requests; an order observer of the engine."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.closes = Counter(
            "router_closes", "Closes finished, by outcome.", ["outcome"], registry=registry
        )
        self.orders_sent = Counter(
            "router_orders_sent",
            "Orders sent to venues, counted when sent, by venue and purpose.",
            ["venue", "purpose"],
            registry=registry,
        )
        self.order_results = Counter(
            "router_order_results",
            "Answers to orders, counted when known, by venue, purpose and order state.",
            ["venue", "purpose", "result"],
            registry=registry,
        )
        self.time_to_flat = Histogram(
            "router_time_to_flat_seconds",
            "Wall-clock seconds (monotonic) from the start of a close's run in this process "
            "to its outcome.",
            ["outcome"],
            buckets=TIME_TO_FLAT_BUCKETS,
            registry=registry,
        )
        self.venue_errors = Counter(
            "router_venue_errors",
            "Error answers from venues to orders (rejected or ambiguous), by error class.",
            ["venue", "kind"],
            registry=registry,
        )
        self.circuit = Gauge(
            "router_venue_circuit_state",
            "Circuit state per venue: 0 closed, 1 half-open, 2 open.",
            ["venue"],
            registry=registry,
        )
        self.liquidity = Gauge(
            "router_liquidity_score",
            "Last liquidity score read, per symbol and venue ('all' is consolidated).",
            ["symbol", "venue"],
            registry=registry,
        )
        self.closes_running = Gauge(
            "router_closes_running",
            "Closes this process is running now (read at scrape time).",
            registry=registry,
        )
        self.hedges_open = Gauge(
            "router_hedges_open",
            "Perpetual hedges in the journal that are not closed (read at scrape time).",
            registry=registry,
        )
        self.http_requests = Counter(
            "router_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "router_http_request_duration_seconds",
            "Wall-clock seconds (monotonic) from a request's arrival at the API to the end "
            "of its answer (event streams: until the stream ends), by method and route "
            "template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )

    # the engine's order observer (router.engine.observer.OrderObserver)

    def sent(self, venue: str, purpose: str) -> None:
        self.orders_sent.labels(venue=venue, purpose=purpose).inc()

    def answered(self, venue: str, purpose: str, result: str, error: str | None) -> None:
        self.order_results.labels(venue=venue, purpose=purpose, result=result).inc()
        if error:
            self.venue_errors.labels(venue=venue, kind=error).inc()

    def record_close(self, outcome: str, wall_seconds: float) -> None:
        """A close ended with ``outcome`` after ``wall_seconds`` of monotonic time."""
        self.closes.labels(outcome=outcome).inc()
        self.time_to_flat.labels(outcome=outcome).observe(max(wall_seconds, 0.0))

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request answered (``route`` is the route template, never the path)."""
        label = method_label(method)
        self.http_requests.labels(method=label, route=route, status=str(status)).inc()
        self.http_duration.labels(method=label, route=route).observe(max(seconds, 0.0))

    def render(
        self,
        health: Mapping[str, CircuitBreaker],
        *,
        closes_running: int = 0,
        hedges_open: int = 0,
    ) -> bytes:
        for name, breaker in health.items():
            self.circuit.labels(venue=name).set(CIRCUIT_VALUES.get(breaker.state, 2))
        self.closes_running.set(closes_running)
        self.hedges_open.set(hedges_open)
        return generate_latest(self.registry)
