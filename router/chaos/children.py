"""What every chaos run with router *processes* shares: the venues in this process, a
fresh journal, ``python -m router.chaos.worker`` children that can be SIGKILLed where a
seeded random choice aims, and the final check of the journal against the ledgers.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import router
from router.chaos.faults import crisis_stages, random_fault, random_request_fields
from router.chaos.invariants import Violation, check_world
from router.chaos.report import UNHANDLED, RunReport
from router.chaos.worker import WorkerConfig
from router.chaos.world import initial_balances, three_venues
from router.journal.repository import Journal
from router.sim.clock import ScaledClock
from router.sim.scenario import FaultKind
from router.sim.server import SimCluster

SPEED = Decimal(20)
"""Scenario seconds per wall second in crash runs."""
WORKER_TIMEOUT_S = 240.0
MILD_FAULTS: tuple[FaultKind, ...] = ("partial_fill", "timeout_after_accept", "latency", "garbled")


@asynccontextmanager
async def fresh_journal(db_url: str | None, workdir: Path, name: str) -> AsyncIterator[str]:
    """A journal URL nobody else uses: a new SQLite file, or a new PostgreSQL database."""
    if db_url is None or make_url(db_url).get_backend_name() == "sqlite":
        path = workdir / f"{name}.db"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            _remove_sqlite(path)
        return
    database = f"chaos_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(db_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            yield make_url(db_url).set(database=database).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _python_path() -> str:
    """PYTHONPATH for a worker: this package's root first."""
    root = str(Path(router.__file__).resolve().parents[1])
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)


class Child:
    """One worker process and the phase markers it writes."""

    def __init__(self, process: asyncio.subprocess.Process, markers: Path, log: Path) -> None:
        self.process = process
        self.markers = markers
        self.log = log

    @classmethod
    async def spawn(cls, config_file: Path, mode: str, markers: Path, log: Path) -> Child:
        with log.open("ab") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "router.chaos.worker",
                str(config_file),
                mode,
                str(markers),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "PYTHONPATH": _python_path()},
            )
        return cls(process, markers, log)

    def phases(self) -> list[dict[str, object]]:
        if not self.markers.exists():
            return []
        lines = self.markers.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def wait_for(self, wanted: str, *, wave: int = 0, limit_s: float = 60.0) -> bool:
        """Until a marker of phase ``wanted`` (at or after ``wave``); False if it exited."""
        deadline = time.monotonic() + limit_s
        while self.alive and time.monotonic() < deadline:
            for marker in self.phases():
                if marker.get("phase") == wanted and int(str(marker.get("wave", 0))) >= wave:
                    return True
            with suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 0.01)
        return False

    async def kill(self) -> bool:
        """SIGKILL it if it is still running; True if it was."""
        if not self.alive:
            return False
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        return True

    async def finish(self, limit_s: float) -> Violation | None:
        try:
            code = await asyncio.wait_for(self.process.wait(), limit_s)
        except TimeoutError:
            await self.kill()
            return Violation(UNHANDLED, f"the worker did not finish within {limit_s:.0f} s")
        if code != 0:
            tail = self.log.read_text(encoding="utf-8", errors="replace").strip()
            return Violation(UNHANDLED, f"the worker exited {code}: {tail[-600:]}")
        return None


async def aim(rng: random.Random, child: Child, hedging: bool, delay_s: float = 1.2) -> bool:
    """Wait for the point of the close ``rng`` picks (up to ``delay_s`` after the start,
    at a wave, while hedging); False if the child exited first."""
    if not await child.wait_for("loaded"):
        return False
    point = rng.choices(("delay", "wave", "hedge"), weights=(5, 3, 2 if hedging else 0))[0]
    if point == "wave":
        await child.wait_for("spot", wave=rng.randint(0, 2))
        await asyncio.sleep(rng.uniform(0, 0.1))
    elif point == "hedge":
        await child.wait_for("hedge")
        await asyncio.sleep(rng.uniform(0, 0.2))
    else:
        await asyncio.sleep(rng.uniform(0, delay_s))
    return child.alive


async def aimed_kill(rng: random.Random, child: Child, hedging: bool) -> bool:
    """Kill the closing child where ``rng`` says; False if it finished first."""
    return await aim(rng, child, hedging) and await child.kill()


@dataclass
class ChildWorld:
    """One run's venues (with a mild seeded fault mix), journal and close request."""

    name: str
    workdir: Path
    stack: AsyncExitStack
    cluster: SimCluster
    initial: dict[str, dict[str, Decimal]]
    url: str
    request: dict[str, Any]
    log: Path
    spawned: int = field(default=0)

    @classmethod
    async def open(
        cls,
        stack: AsyncExitStack,
        seed: int,
        name: str,
        workdir: Path,
        db_url: str | None,
    ) -> tuple[ChildWorld, random.Random]:
        """The run's world and the seeded random source for its further choices."""
        rng = random.Random(seed)
        scenario = three_venues(crisis_stages(rng), name=name)
        cluster = SimCluster(scenario, seed=seed, tls_dir=workdir / "tls", clock=ScaledClock(SPEED))
        await cluster.start()
        stack.push_async_callback(cluster.stop)
        initial = initial_balances(cluster)
        for running in cluster.venues.values():
            for _ in range(rng.randint(0, 2)):
                running.venue.faults.add(random_fault(rng, rng.choice(MILD_FAULTS)))
        url = await stack.enter_async_context(fresh_journal(db_url, workdir, name))
        request = {**random_request_fields(rng), "idempotency_key": name}
        log = workdir / f"{name}.log"
        stack.callback(log.unlink, missing_ok=True)
        return cls(name, workdir, stack, cluster, initial, url, request, log), rng

    async def spawn(self, owner: str, mode: str, lease_s: float = 30.0) -> Child:
        """Start a router process owning journal leases as ``owner``."""
        self.spawned += 1
        config = WorkerConfig(
            self.cluster.endpoints(), self.url, owner, SPEED, self.request, lease_s
        )
        stem = f"{self.name}.{self.spawned}"
        config_file = self.workdir / f"{stem}.json"
        markers = self.workdir / f"{stem}.jsonl"
        config_file.write_text(json.dumps(config.to_json()), encoding="utf-8")
        for leftover in (config_file, markers):
            self.stack.callback(leftover.unlink, missing_ok=True)
        return await Child.spawn(config_file, mode, markers, self.log)

    @property
    def hedging(self) -> bool:
        return bool(self.request["allow_hedge"])

    async def journaled(self) -> bool:
        """Whether the close got as far as the journal."""
        journal = await Journal.open(self.url, owner="chaos-checker")
        try:
            return await journal.close_by_key(self.name) is not None
        finally:
            await journal.close()

    async def hedged(self) -> bool:
        """Whether the close holds a perp hedge that is not yet unwound."""
        journal = await Journal.open(self.url, owner="chaos-checker")
        try:
            close = await journal.close_by_key(self.name)
            return close is not None and any(
                h["close_id"] == close.id and h["quantity"] > h["unwound_qty"]
                for h in await journal.hedges(open_only=True)
            )
        finally:
            await journal.close()

    def calm(self) -> None:
        """Stop every fault (what they injected stays counted)."""
        for running in self.cluster.venues.values():
            running.venue.faults.clear()

    async def check(self, report: RunReport) -> None:
        """Stop the faults, then check the journal against the venues' ledgers; record
        the close's outcome and the faults injected."""
        self.calm()
        journal = await Journal.open(self.url, owner="chaos-checker")
        try:
            report.violations += await check_world(
                journal, {n: r.venue for n, r in self.cluster.venues.items()}, self.initial
            )
            close = await journal.close_by_key(self.name)
            report.outcome = close.outcome if close is not None else None
        finally:
            await journal.close()
        report.injected = {}
        for running in self.cluster.venues.values():
            for kind, count in running.venue.faults.injected.items():
                report.injected[kind] = report.injected.get(kind, 0) + count
