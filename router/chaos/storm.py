"""Seeded fault storms: one close through a three-venue world under a random fault mix.

Run ``i`` of a chaos session with seed ``S`` draws everything from ``Random(S + i)``
(:func:`plan_storm`): the crisis stages, the faults of each venue (kind, endpoint,
window, probability, count), the close request and then the position mix — in half of
the runs drawn with an explicit quantity the close is of everything held instead
(``quantity = "all"``), and in about a third read faults (429, 418, 503, garbled) hit
the balance, markets or book reads of the close's first second (markets at the world's
loading, which loads them again in the background). Venues answering nonsense are drawn
from a source of their own (``Random(-(S + i) - 1)``). The position mix is drawn after
everything else, so without it (``position=False``) a seed draws what it drew before.

The close runs in process against a manual clock; any exception escaping the engine is
an ``unhandled`` violation. Then the storm passes, and the router does what its keeper
does every few seconds in a running service: it looks up the orders the close left in
doubt and restates the close (``Engine.settle_finished``). Finally the journal is
checked against the venues' ledgers (:mod:`router.chaos.invariants`).
"""

from __future__ import annotations

import asyncio
import random
import time
import traceback
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.chaos.faults import (
    ADAPTER_TIMEOUT_S,
    MARKETS_ENDPOINT,
    crisis_stages,
    nonsense_faults,
    random_faults,
    random_request_fields,
    start_faults,
    whole_close,
)
from router.chaos.invariants import Violation
from router.chaos.report import UNHANDLED, RunReport
from router.chaos.world import THREE_VENUES, build_world, three_venues
from router.engine.request import CloseRequest
from router.sim.scenario import FaultSpec

RUN_TIMEOUT_S = 300.0
"""Wall time after which a close counts as stuck (an ``unhandled`` violation)."""
VENUES = [str(v["name"]) for v in THREE_VENUES]

Faults = dict[str, list[FaultSpec]]


@dataclass(frozen=True)
class StormPlan:
    """Everything a storm run draws from its seed, before any venue starts."""

    seed: int
    stages: list[dict[str, Any]]
    faults: Faults
    request: dict[str, Any]
    start: Faults = field(default_factory=dict)
    """Read faults from the close's first instant (windows relative to its start)."""
    nonsense: Faults = field(default_factory=dict)

    def at_load(self) -> Faults:
        """The start faults on the markets read, in place while the world loads them."""
        return {
            n: [f for f in fs if f.endpoint == MARKETS_ENDPOINT] for n, fs in self.start.items()
        }

    def at_start(self, t: Decimal) -> Faults:
        """The other start faults, their windows moved to begin at ``t`` (the close's
        start; loading the markets under faults may have moved the clock on)."""
        moved: Faults = {}
        for name, specs in self.start.items():
            moved[name] = [
                f.model_copy(
                    update={
                        "start_s": f.start_s + t,
                        "end_s": None if f.end_s is None else f.end_s + t,
                    }
                )
                for f in specs
                if f.endpoint != MARKETS_ENDPOINT
            ]
        return moved


def plan_storm(seed: int, *, nonsense: bool = True, position: bool = True) -> StormPlan:
    """Storm run ``seed``'s draws (see the module docstring), in their order."""
    rng = random.Random(seed)
    stages = crisis_stages(rng)
    faults = random_faults(rng, VENUES)
    request = {**random_request_fields(rng), "idempotency_key": f"storm-{seed}"}
    start: Faults = {}
    if position:
        request = whole_close(rng, request)
        start = start_faults(rng, VENUES)
    odd = nonsense_faults(random.Random(-seed - 1), VENUES) if nonsense else {}
    return StormPlan(seed, stages, faults, request, start, odd)


async def run_storm(
    seed: int, workdir: Path, *, nonsense: bool = True, position: bool = True
) -> RunReport:
    """One storm run; ``workdir`` holds the (reused) TLS material and the run's journal.

    ``nonsense=False`` leaves the venues' nonsense answers out, ``position=False`` the
    position mix (whole closes, read faults at the start): the storms as they were
    before those were added, to replay the seeds of findings made then.
    """
    plan = plan_storm(seed, nonsense=nonsense, position=position)
    started = time.monotonic()
    report = RunReport(kind="storm", seed=seed)
    scenario = three_venues(plan.stages, name=f"storm-{seed}")
    journal_file = workdir / f"storm-{seed}.db"
    async with AsyncExitStack() as stack:
        stack.callback(journal_file.unlink, missing_ok=True)
        world = await build_world(
            stack,
            scenario,
            tls_dir=workdir / "tls",
            journal_url=f"sqlite+aiosqlite:///{journal_file}",
            seed=seed,
            adapter_timeout_s=ADAPTER_TIMEOUT_S,
            at_load=plan.at_load(),
        )
        for mix in (plan.faults, plan.nonsense, plan.at_start(world.clock.now())):
            for name, specs in mix.items():
                for spec in specs:
                    world.venue(name).faults.add(spec)
        request = CloseRequest.model_validate(plan.request)
        try:
            result = await asyncio.wait_for(world.engine.close(request), RUN_TIMEOUT_S)
            report.outcome = result.outcome
        except Exception as exc:
            report.violations.append(Violation(UNHANDLED, _describe(exc)))
        for venue in world.venues().values():
            venue.faults.clear()
        try:
            await world.engine.settle_finished()
        except Exception as exc:
            report.violations.append(Violation(UNHANDLED, _describe(exc)))
        report.violations += await world.violations()
        report.injected = world.injected()
    report.seconds = time.monotonic() - started
    return report


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"the close did not finish within {RUN_TIMEOUT_S:.0f} s"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
