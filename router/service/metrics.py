"""Prometheus metrics of one application, kept in their own registry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from router.journal.records import AttemptView
from router.venues.health import CircuitBreaker, CircuitState

CIRCUIT_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}
TIME_TO_FLAT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))


class Metrics:
    """Closes by outcome, attempts by result, time to flat, venue errors, circuits, scores."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.closes = Counter(
            "router_closes", "Closes finished, by outcome.", ["outcome"], registry=self.registry
        )
        self.attempts = Counter(
            "router_attempts",
            "Orders of finished closes, by final state.",
            ["venue", "result"],
            registry=self.registry,
        )
        self.time_to_flat = Histogram(
            "router_time_to_flat_seconds",
            "Duration of closes from acceptance to outcome.",
            ["outcome"],
            buckets=TIME_TO_FLAT_BUCKETS,
            registry=self.registry,
        )
        self.venue_errors = Counter(
            "router_venue_errors",
            "Errors seen from venues (rejected or ambiguous orders, failed reads).",
            ["venue", "kind"],
            registry=self.registry,
        )
        self.circuit = Gauge(
            "router_venue_circuit_state",
            "Circuit state per venue: 0 closed, 1 half-open, 2 open.",
            ["venue"],
            registry=self.registry,
        )
        self.liquidity = Gauge(
            "router_liquidity_score",
            "Last liquidity score read, per symbol and venue ('all' is consolidated).",
            ["symbol", "venue"],
            registry=self.registry,
        )

    def record_close(
        self, outcome: str, duration_s: float, attempts: Iterable[AttemptView]
    ) -> None:
        self.closes.labels(outcome=outcome).inc()
        self.time_to_flat.labels(outcome=outcome).observe(max(duration_s, 0.0))
        for attempt in attempts:
            self.attempts.labels(venue=attempt.venue, result=attempt.state.value).inc()
            if attempt.error_class:
                self.venue_errors.labels(venue=attempt.venue, kind=attempt.error_class).inc()

    def render(self, health: Mapping[str, CircuitBreaker]) -> bytes:
        for name, breaker in health.items():
            self.circuit.labels(venue=name).set(CIRCUIT_VALUES.get(breaker.state, 2))
        return generate_latest(self.registry)
