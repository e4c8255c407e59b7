"""Seeded fault storms: one close through a three-venue world under a random fault mix.

Run ``i`` of a chaos session with seed ``S`` draws everything from ``Random(S + i)``:
the crisis stages, the faults of each venue (kind, endpoint, window, probability,
count) and the close request; venues answering nonsense are drawn from a source of
their own (``Random(-(S + i) - 1)``). The close runs in process against a manual clock; any
exception escaping the engine is an ``unhandled`` violation. Then the storm passes, and
the router does what its keeper does every few seconds in a running service: it looks
up the orders the close left in doubt and restates the close
(``Engine.settle_finished``). Finally the journal is checked against the venues'
ledgers (:mod:`router.chaos.invariants`).
"""

from __future__ import annotations

import asyncio
import random
import time
import traceback
from contextlib import AsyncExitStack
from pathlib import Path

from router.chaos.faults import (
    ADAPTER_TIMEOUT_S,
    crisis_stages,
    nonsense_faults,
    random_faults,
    random_request_fields,
)
from router.chaos.invariants import Violation
from router.chaos.report import UNHANDLED, RunReport
from router.chaos.world import build_world, three_venues
from router.engine.request import CloseRequest

RUN_TIMEOUT_S = 300.0
"""Wall time after which a close counts as stuck (an ``unhandled`` violation)."""


async def run_storm(seed: int, workdir: Path, *, nonsense: bool = True) -> RunReport:
    """One storm run; ``workdir`` holds the (reused) TLS material and the run's journal.

    ``nonsense=False`` leaves the venues' nonsense answers out: the storms as they were
    before those were added, to replay the seeds of findings made then.
    """
    rng = random.Random(seed)
    started = time.monotonic()
    report = RunReport(kind="storm", seed=seed)
    scenario = three_venues(crisis_stages(rng), name=f"storm-{seed}")
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
        )
        venues = list(world.adapters)
        mixes = [random_faults(rng, venues)]
        if nonsense:
            mixes.append(nonsense_faults(random.Random(-seed - 1), venues))
        for mix in mixes:
            for name, specs in mix.items():
                for spec in specs:
                    world.venue(name).faults.add(spec)
        request = CloseRequest.model_validate(
            {**random_request_fields(rng), "idempotency_key": f"storm-{seed}"}
        )
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
