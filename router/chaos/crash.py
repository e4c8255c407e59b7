"""Crash-restart runs: SIGKILL a router process mid-close, restart it, check the ledgers.

The simulated venues run in this (parent) process on a scaled real-time clock, so their
ledgers stay readable; a child ``python -m router.chaos.worker`` runs the engine
against them through ccxt with a journal of its own (SQLite file, or a fresh
PostgreSQL database on the server ``--db`` names). Run ``seed`` draws from
``Random(seed)`` the crisis, a mild fault mix, the close request and where to kill:
after a random delay (before a send, after a send, amid fills), at a given wave, or
while hedging (aimed by the phase markers the worker writes). Sometimes the restarted
process is killed too. The last restart runs ``resume`` to completion. When the close
ended hedged, half the runs then unwind the hedge (``unwind``), kill the router while
it buys back, and — the venues calm again — unwind again to completion (the restarted
router first settles the buy-back the killed one left in doubt). Then the journal is
checked against the venues' ledgers.
"""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack
from pathlib import Path

from router.chaos.children import WORKER_TIMEOUT_S, ChildWorld, aimed_kill
from router.chaos.report import RunReport

UNWIND_SHARE = 0.5
"""Share of crash runs that, when the close ended hedged, also unwind the hedge and
kill the router while it unwinds (drawn from a source of its own)."""
OWNER = "chaos-router"
"""The restarted process is the same router: it reclaims its own leases at once."""


async def run_crash(seed: int, workdir: Path, db_url: str | None = None) -> RunReport:
    """One crash-restart run (see the module docstring)."""
    started = time.monotonic()
    report = RunReport(kind="crash", seed=seed)
    async with AsyncExitStack() as stack:
        world, rng = await ChildWorld.open(stack, seed, f"crash-{seed}", workdir, db_url)
        first = await world.spawn(OWNER, "close")
        killed = await aimed_kill(rng, first, world.hedging)
        report.crashes += killed
        if not killed:
            report.note(await first.finish(WORKER_TIMEOUT_S))
        while rng.random() < 0.3:
            again = await world.spawn(OWNER, "resume")
            if await again.wait_for("loaded"):
                await asyncio.sleep(rng.uniform(0, 0.5))
            killed = await again.kill()
            report.crashes += killed
            if not killed:
                report.note(await again.finish(WORKER_TIMEOUT_S))
        last = await world.spawn(OWNER, "resume")
        report.note(await last.finish(WORKER_TIMEOUT_S))
        if random.Random(-seed - 1).random() < UNWIND_SHARE and await world.hedged():
            unwinding = await world.spawn(OWNER, "unwind")
            if await unwinding.wait_for("unwind"):
                await asyncio.sleep(rng.uniform(0, 0.3))
            killed = await unwinding.kill()
            report.unwinds += 1
            report.crashes += killed
            if not killed:
                report.note(await unwinding.finish(WORKER_TIMEOUT_S))
            world.calm()
            again = await world.spawn(OWNER, "unwind")
            report.note(await again.finish(WORKER_TIMEOUT_S))
        await world.check(report)
    report.seconds = time.monotonic() - started
    return report
