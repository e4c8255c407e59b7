"""Run several simulated venues at once, each on its own loopback TLS port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiohttp import web

from router.sim.clock import Clock, ManualClock, ScaledClock, wall_ms
from router.sim.endpoint import VenueEndpoint
from router.sim.http import build_app
from router.sim.scenario import Scenario
from router.sim.stream import DepthHub
from router.sim.tls import TlsMaterial, ensure_tls_material, server_ssl_context
from router.sim.venue import SimVenue

UPDATE_INTERVAL_S = 0.1


@dataclass
class RunningVenue:
    venue: SimVenue
    hub: DepthHub
    endpoint: VenueEndpoint
    runner: web.AppRunner


class SimCluster:
    """The venues of one scenario, served until :meth:`stop`.

    With a :class:`ManualClock` the world moves only when the caller advances the
    clock and calls :meth:`step`; otherwise a background task moves it every
    ``update_interval`` seconds of wall time and publishes the depth streams.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int = 0,
        tls_dir: Path,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        wall_clock_ms: Callable[[], int] = wall_ms,
        update_interval: float = UPDATE_INTERVAL_S,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.tls_dir = tls_dir
        self.clock: Clock = clock if clock is not None else ScaledClock(scenario.speed)
        self.host = host
        self.wall_clock_ms = wall_clock_ms
        self.update_interval = update_interval
        self.venues: dict[str, RunningVenue] = {}
        self.tls: TlsMaterial | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def manual(self) -> bool:
        return isinstance(self.clock, ManualClock)

    async def start(self) -> SimCluster:
        self.tls = ensure_tls_material(self.tls_dir)
        ssl_context = server_ssl_context(self.tls)
        for spec in self.scenario.venues:
            venue = SimVenue(
                self.scenario, spec, seed=self.seed, clock=self.clock, wall_ms=self.wall_clock_ms
            )
            hub = DepthHub(venue)
            runner = web.AppRunner(build_app(venue, hub), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self.host, 0, ssl_context=ssl_context)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.base_events.Server)
            port = server.sockets[0].getsockname()[1]
            endpoint = VenueEndpoint(
                name=spec.name,
                port=port,
                ca_cert=self.tls.ca_cert,
                api_key=venue.api_key,
                secret=venue.secret,
                host=self.host,
            )
            self.venues[spec.name] = RunningVenue(venue, hub, endpoint, runner)
        if not self.manual:
            self._ticker = asyncio.create_task(self._tick_forever())
        return self

    def step(self) -> None:
        """Move every venue to the clock's time and publish book changes."""
        for running in self.venues.values():
            running.venue.update()
            running.hub.publish()

    async def _tick_forever(self) -> None:
        while True:
            self.step()
            await asyncio.sleep(self.update_interval)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for running in self.venues.values():
            await running.runner.cleanup()
        self.venues.clear()

    def venue(self, name: str) -> SimVenue:
        return self.venues[name].venue

    def endpoint(self, name: str) -> VenueEndpoint:
        return self.venues[name].endpoint

    def endpoints(self) -> list[VenueEndpoint]:
        return [running.endpoint for running in self.venues.values()]

    async def __aenter__(self) -> SimCluster:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
