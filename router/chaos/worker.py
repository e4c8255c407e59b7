"""A router process for crash runs: it closes (or resumes) and may be killed at any point.

    python -m router.chaos.worker CONFIG.json close|resume|keep|unwind MARKERS

The JSON file names the simulated venues (port, CA certificate, API key and secret),
the journal URL, the journal owner, the scenario speed and the close request. The
worker talks to the venues through unmodified ccxt, paces itself on scenario time
(``speed`` scenario seconds per wall second) and appends a line to the MARKERS file
at each phase change (loaded, each wave, hedge, done), so the parent can aim its
SIGKILL. ``resume`` runs :meth:`Engine.resume`: recovery, then finishing the closes.
``unwind`` resumes, then buys back every open hedge of the close, as an operator would
once the spot is sold elsewhere. ``keep`` is a second router sharing the journal: it
runs the service's keeper pass (:meth:`Engine.reconcile`) until the request's close has
an outcome, taking the close over once its owner's lease has expired. A router that
finds its close taken over (:class:`LeaseLost`) writes a ``lease_lost`` marker and
exits cleanly.
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.core.lifecycle import CloseOutcome
from router.core.policy import Policy
from router.engine.engine import Engine
from router.engine.errors import UnwindRefused
from router.engine.lease import LeaseLost
from router.engine.pacing import Pacing
from router.engine.progress import CloseProgress
from router.engine.request import CloseRequest
from router.harness.connect import binance_client, close_client
from router.journal.repository import Journal
from router.sim.clock import ScaledClock
from router.sim.endpoint import VenueEndpoint
from router.venues.adapter import VenueAdapter
from router.venues.errors import VenueError
from router.venues.health import CircuitBreaker


@dataclass(frozen=True)
class WorkerConfig:
    endpoints: list[VenueEndpoint]
    journal_url: str
    owner: str
    speed: Decimal
    request: dict[str, Any]
    lease_s: float = 30.0

    def to_json(self) -> dict[str, Any]:
        return {
            "venues": [
                {"name": e.name, "port": e.port, "api_key": e.api_key, "secret": e.secret}
                for e in self.endpoints
            ],
            "ca_cert": str(self.endpoints[0].ca_cert) if self.endpoints else "",
            "journal_url": self.journal_url,
            "owner": self.owner,
            "speed": str(self.speed),
            "request": self.request,
            "lease_s": self.lease_s,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> WorkerConfig:
        ca_cert = Path(raw["ca_cert"])
        endpoints = [
            VenueEndpoint(
                name=v["name"],
                port=int(v["port"]),
                ca_cert=ca_cert,
                api_key=v["api_key"],
                secret=v["secret"],
            )
            for v in raw["venues"]
        ]
        return cls(
            endpoints,
            raw["journal_url"],
            raw["owner"],
            Decimal(raw["speed"]),
            raw["request"],
            float(raw.get("lease_s", 30.0)),
        )


KEEPER_EVERY_S = 0.2
"""Wall seconds between the keeper's passes."""


class Markers:
    """Phase lines appended (and flushed) to a file the parent polls."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, phase: str, **fields: Any) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"phase": phase, **fields}) + "\n")
            out.flush()

    def progress(self, snapshot: CloseProgress) -> None:
        self.write(snapshot.phase, wave=snapshot.wave)


async def open_engine(stack: AsyncExitStack, config: WorkerConfig) -> Engine:
    clock = ScaledClock(config.speed)
    adapters: dict[str, VenueAdapter] = {}
    health: dict[str, CircuitBreaker] = {}
    for endpoint in config.endpoints:
        exchange = binance_client(endpoint)
        stack.push_async_callback(close_client, exchange)
        adapter = VenueAdapter(endpoint.name, exchange, sleep=clock.sleep)
        breaker = CircuitBreaker(clock=clock.seconds, venue=endpoint.name)
        try:
            await adapter.load()
        except VenueError as exc:
            breaker.record_failure("outage", str(exc))
        adapters[endpoint.name] = adapter
        health[endpoint.name] = breaker
    journal = await Journal.open(config.journal_url, owner=config.owner)
    stack.push_async_callback(journal.close)
    pacing = Pacing(
        monotonic=clock.seconds, sleep=clock.sleep, lease=timedelta(seconds=config.lease_s)
    )
    return Engine(journal, adapters, health, Policy(), pacing=pacing)


async def main(config: WorkerConfig, mode: str, markers: Markers) -> None:
    async with AsyncExitStack() as stack:
        engine = await open_engine(stack, config)
        markers.write("loaded", mode=mode)
        try:
            if mode == "close":
                request = CloseRequest.model_validate(config.request)
                result = await engine.close(request, on_progress=markers.progress)
                outcomes = [result.outcome]
            elif mode == "keep":
                outcomes = await keep(engine, config, markers)
            elif mode == "unwind":
                outcomes = await unwind(engine, config, markers)
            else:
                outcomes = [result.outcome for result in await engine.resume()]
        except LeaseLost as exc:
            markers.write("lease_lost", mode=mode, detail=str(exc))
            return
        markers.write("exit", mode=mode, outcomes=outcomes)


async def unwind(
    engine: Engine, config: WorkerConfig, markers: Markers
) -> list[CloseOutcome | None]:
    """The operator's unwind: finish what a crash left, then buy back every open hedge
    of the close; a last keeper pass books what orders left in doubt did."""
    outcomes = [result.outcome for result in await engine.resume()]
    close = await engine.journal.close_by_key(str(config.request["idempotency_key"]))
    if close is not None:
        for hedge in await engine.journal.hedges(open_only=True):
            if hedge["close_id"] == close.id:
                markers.write("unwind", hedge=hedge["id"])
                try:
                    await engine.unwind(hedge["id"])
                except UnwindRefused as exc:
                    markers.write("unwind_refused", hedge=hedge["id"], reason=str(exc))
    await engine.reconcile()
    return outcomes


async def keep(engine: Engine, config: WorkerConfig, markers: Markers) -> list[CloseOutcome | None]:
    """The keeper of a second router: take the close over when its owner stops."""
    key = str(config.request["idempotency_key"])
    outcomes: list[CloseOutcome | None] = []
    while True:
        for request in await engine.reconcile():
            markers.write("took_over", key=request.idempotency_key)
            result = await engine.close(request, on_progress=markers.progress)
            outcomes.append(result.outcome)
        close = await engine.journal.close_by_key(key)
        if close is not None and close.outcome is not None:
            await engine.settle_finished()
            if not await engine.journal.in_flight(close.id):
                return outcomes
        await asyncio.sleep(KEEPER_EVERY_S)


if __name__ == "__main__":
    raw_config = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    asyncio.run(main(WorkerConfig.from_json(raw_config), sys.argv[2], Markers(Path(sys.argv[3]))))
