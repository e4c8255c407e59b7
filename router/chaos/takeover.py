"""Two routers on one PostgreSQL journal: the owner of a close is killed, the other
takes the close over once the owner's lease has expired, and finishes it.

Like a crash run (:mod:`router.chaos.crash`) the venues run in this process and each
router is a ``python -m router.chaos.worker`` child, here with a short lease
(:data:`LEASE_S`): router A closes, router B runs the service's keeper (``keep``) on
the same journal from the start. A is SIGKILLed where ``Random(seed)`` aims (after a
delay, at a wave, while hedging); B must leave the close alone while A renews its
lease, take it over after, and finish it. Nothing may be executed twice: the journal
is checked against the venues' ledgers as after every chaos run.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from pathlib import Path

from router.chaos.children import WORKER_TIMEOUT_S, ChildWorld, aimed_kill
from router.chaos.report import RunReport

LEASE_S = 2.0
"""Wall seconds a close stays its owner's without renewal in takeover runs."""


async def run_takeover(seed: int, workdir: Path, db_url: str) -> RunReport:
    """One takeover run (see the module docstring)."""
    started = time.monotonic()
    report = RunReport(kind="takeover", seed=seed)
    async with AsyncExitStack() as stack:
        world, rng = await ChildWorld.open(stack, seed, f"takeover-{seed}", workdir, db_url)
        owner = await world.spawn("router-a", "close", LEASE_S)
        keeper = await world.spawn("router-b", "keep", LEASE_S)
        killed = await aimed_kill(rng, owner, world.hedging)
        report.crashes += killed
        if not killed:
            report.note(await owner.finish(WORKER_TIMEOUT_S))
        if await world.journaled():
            report.note(await keeper.finish(WORKER_TIMEOUT_S))
        else:
            await keeper.kill()
        report.takeovers += any(m.get("phase") == "took_over" for m in keeper.phases())
        await world.check(report)
    report.seconds = time.monotonic() - started
    return report
