"""A venue whose markets fail to load is loaded again in the background until it loads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from router.engine.simulate import open_world
from router.harness.connect import binance_client, close_client
from router.sim.clock import ManualClock
from router.sim.scenario import FaultSpec, Scenario
from router.sim.server import SimCluster
from router.venues.adapter import VenueAdapter, retry_after_of, retry_after_seconds
from router.venues.errors import BadVenueData, RateLimited, VenueError, VenueUnavailable
from router.venues.health import CircuitBreaker, CircuitState
from router.venues.loader import Backoff, keep_loading, load_venue, start_loading
from tests.sim.conftest import small_world
from tests.venues.conftest import SPOT, utc_clock

EXCHANGE_INFO = "GET /api/v3/exchangeInfo"


def throttled(seconds: float | None) -> RateLimited:
    error = RateLimited("bravo: load_markets failed: binance 429 Too Many Requests")
    error.retry_after_s = seconds  # type: ignore[attr-defined]
    return error


class FlakyVenue:
    """Fails its first loads with the given errors, then loads."""

    def __init__(self, *failures: BaseException, name: str = "bravo") -> None:
        self.name = name
        self.loaded = False
        self.load_error: str | None = None
        self.calls = 0
        self._failures = list(failures)

    async def load(self) -> None:
        self.calls += 1
        if self._failures:
            error = self._failures.pop(0)
            self.load_error = str(error)
            raise error
        self.loaded = True
        self.load_error = None


class FailingVenue(FlakyVenue):
    """Never loads."""

    async def load(self) -> None:
        self.calls += 1
        self.load_error = "bravo: load_markets failed: down"
        raise VenueUnavailable(self.load_error)


class Sleeps:
    """An injected sleep that records each wait and moves a manual clock by it."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(Decimal(repr(seconds)))
        await asyncio.sleep(0)


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (on the event loop) until ``condition`` holds."""
    for _ in range(int(timeout_s / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")


def breaker_on(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(clock=clock.now, venue="bravo")


async def test_keeps_loading_with_exponential_backoff_until_loaded() -> None:
    sleeps = Sleeps()
    venue = FlakyVenue(*(BadVenueData(f"garbage {n}") for n in range(7)))
    attempts = await keep_loading(venue, breaker_on(sleeps.clock), sleep=sleeps)
    assert attempts == 8
    assert venue.loaded
    assert venue.load_error is None
    assert sleeps.waits == [1, 2, 4, 8, 16, 30, 30, 30]


async def test_each_failure_is_the_load_error_and_goes_to_the_breaker() -> None:
    sleeps = Sleeps()
    breaker = breaker_on(sleeps.clock)
    venue = FlakyVenue(BadVenueData("bravo: garbage 1"), BadVenueData("bravo: garbage 2"))
    seen: list[str | None] = []
    record = breaker.record_failure

    def spy(*args: Any, **kwargs: Any) -> None:
        seen.append(venue.load_error)
        record(*args, **kwargs)

    breaker.record_failure = spy  # type: ignore[method-assign]
    await keep_loading(venue, breaker, sleep=sleeps)
    assert seen == ["bravo: garbage 1", "bravo: garbage 2"]
    assert breaker.last_error == "error: bravo: garbage 2"
    # the success reset the failure count: four more failures do not open the circuit
    for _ in range(4):
        record("error")
    assert breaker.state is CircuitState.CLOSED


async def test_a_rate_limit_s_retry_after_is_honoured() -> None:
    sleeps = Sleeps()
    breaker = breaker_on(sleeps.clock)
    venue = FlakyVenue(throttled(7), throttled(0.5), throttled(None))
    await keep_loading(venue, breaker, sleep=sleeps, retry_after_s=5)
    # first wait: the starting failure's Retry-After (5 > 1); then max(backoff, Retry-After)
    assert sleeps.waits == [5, 7, 4, 8]
    assert venue.loaded
    assert breaker.state is CircuitState.CLOSED


async def test_a_venue_out_at_start_comes_back_and_its_circuit_closes() -> None:
    sleeps = Sleeps()
    breaker = breaker_on(sleeps.clock)
    venue = FlakyVenue(*(VenueUnavailable("bravo: load_markets failed: 503") for _ in range(5)))
    async with AsyncExitStack() as stack:
        assert await load_venue(stack, venue, breaker, sleep=sleeps) is False
        assert breaker.state is CircuitState.OPEN
        await eventually(lambda: venue.loaded)
    # loaded at 1 + 2 + 4 + 8 + 16 = 31 s, past the outage's 30 s cooldown: the load was
    # the half-open probe and closed the circuit
    assert sleeps.waits == [1, 2, 4, 8, 16]
    assert breaker.state is CircuitState.CLOSED


async def test_loading_is_cancelled_when_the_stack_closes() -> None:
    venue = FailingVenue()
    async with AsyncExitStack() as stack:
        task = start_loading(
            stack,
            venue,
            breaker_on(ManualClock()),
            sleep=asyncio.sleep,
            backoff=Backoff(first_s=0.001, max_s=0.002),
        )
        await eventually(lambda: venue.calls >= 3)
    assert task.cancelled()
    calls = venue.calls
    await asyncio.sleep(0.02)
    assert venue.calls == calls
    assert not venue.loaded


async def test_a_load_in_flight_is_cancelled_too() -> None:
    started = asyncio.Event()

    class Hanging(FlakyVenue):
        async def load(self) -> None:
            started.set()
            await asyncio.Event().wait()

    async with AsyncExitStack() as stack:
        task = start_loading(stack, Hanging(), breaker_on(ManualClock()), sleep=Sleeps())
        await asyncio.wait_for(started.wait(), 5)
    assert task.cancelled()


async def test_a_venue_that_loads_at_once_starts_no_loader() -> None:
    venue = FlakyVenue()
    async with AsyncExitStack() as stack:
        assert await load_venue(stack, venue, breaker_on(ManualClock()), sleep=Sleeps())
    assert venue.calls == 1


def test_retry_after_header_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = (now + timedelta(seconds=12)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds({"Retry-After": "3"}, now) == 3
    assert retry_after_seconds({"retry-after": "1.5"}, now) == 1.5
    assert retry_after_seconds({"Retry-After": later}, now) == 12
    assert retry_after_seconds({"Retry-After": "-4"}, now) == 0
    for bad in ({}, {"Retry-After": "soon"}, {"Retry-After": "nan"}, None):
        assert retry_after_seconds(bad, now) is None
    assert retry_after_of(VenueError("x")) is None


# ---------------------------------------------------------------- against the simulator


@pytest.fixture
def world() -> Scenario:
    """bravo answers its first exchangeInfo with a 429 (Retry-After: 3)."""
    return small_world(
        faults=[
            {
                "kind": "rate_limit",
                "venue": "bravo",
                "endpoint": EXCHANGE_INFO,
                "count": 1,
                "retry_after_s": 3,
            }
        ]
    )


async def test_one_429_on_exchange_info_at_start_is_loaded_shortly_after(
    cluster: SimCluster, clock: ManualClock
) -> None:
    exchange = binance_client(cluster.endpoint("bravo"))
    adapter = VenueAdapter("bravo", exchange, clock=utc_clock(clock), timeout_s=5)
    breaker = CircuitBreaker(clock=clock.now, venue="bravo")
    sleeps = Sleeps(clock)
    try:
        async with AsyncExitStack() as stack:
            assert await load_venue(stack, adapter, breaker, sleep=sleeps) is False
            assert not adapter.loaded
            assert adapter.load_error is not None
            assert "429" in adapter.load_error
            assert exchange.secret not in adapter.load_error
            assert adapter.markets() == []
            # a single 429 is a rate limit, not an outage: the circuit stays closed
            assert breaker.state is CircuitState.CLOSED
            assert breaker.last_error is not None
            assert "rate_limit" in breaker.last_error
            await eventually(lambda: adapter.loaded)
        assert adapter.load_error is None
        assert adapter.market(SPOT).symbol == SPOT
        assert sleeps.waits == [3]  # the venue's Retry-After, not the 1 s backoff
        assert breaker.state is CircuitState.CLOSED
    finally:
        await adapter.close()
        await close_client(exchange)


async def test_a_throttled_read_carries_the_retry_after(
    cluster: SimCluster, clock: ManualClock
) -> None:
    exchange = binance_client(cluster.endpoint("bravo"))
    adapter = VenueAdapter("bravo", exchange, clock=utc_clock(clock), timeout_s=5)
    try:
        with pytest.raises(RateLimited) as raised:
            await adapter.load()
        assert retry_after_of(raised.value) == 3
        await adapter.load()
        assert adapter.loaded
    finally:
        await adapter.close()
        await close_client(exchange)


async def test_open_world_loads_a_throttled_venue_in_the_background(tmp_path: Path) -> None:
    scenario = small_world(
        speed=20,
        faults=[{"kind": "rate_limit", "venue": "bravo", "endpoint": EXCHANGE_INFO, "count": 1}],
    )
    async with AsyncExitStack() as stack:
        world = await open_world(stack, scenario, seed=1, tls_dir=tmp_path / "tls")
        bravo = world.adapters["bravo"]
        assert world.adapters["alpha"].loaded
        assert not bravo.loaded
        assert bravo.load_error is not None
        assert "429" in bravo.load_error
        await eventually(lambda: bravo.loaded)
        assert bravo.load_error is None
        assert bravo.market(SPOT).symbol == SPOT
        assert world.health["bravo"].state is CircuitState.CLOSED


async def test_a_garbled_exchange_info_is_a_failed_load_not_a_venue_without_markets(
    cluster: SimCluster, clock: ManualClock
) -> None:
    every_exchange_info = "GET */exchangeInfo"  # spot's and USD-M's
    cluster.venue("alpha").faults.add(
        FaultSpec(kind="garbled", endpoint=every_exchange_info, end_s=Decimal(1))
    )
    exchange = binance_client(cluster.endpoint("alpha"))
    adapter = VenueAdapter("alpha", exchange, clock=utc_clock(clock), timeout_s=5)
    try:
        with pytest.raises(VenueError):
            await adapter.load()
        assert not adapter.loaded
        assert adapter.markets() == []
        clock.advance(Decimal(2))
        await adapter.load()
        assert adapter.loaded
        assert adapter.market(SPOT).symbol == SPOT
    finally:
        await adapter.close()
        await close_client(exchange)
