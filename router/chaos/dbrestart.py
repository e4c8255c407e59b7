"""Database-restart runs: the PostgreSQL server under the journal restarts mid-close.

The router is a ``python -m router.chaos.worker`` child closing against the venues of
this process, its journal a fresh database on the ``--db`` server. Where
``Random(seed)`` aims (after a delay, at a wave, while hedging) the server is stopped
(fast shutdown: every connection is cut, open transactions roll back), kept down for
a random 0.5-3 s, and started again. The router must ride the outage out (its journal
retries on fresh connections, :mod:`router.journal.outage`), finish the close by
itself, and leave a journal that agrees with the venues' ledgers.

The server is driven with Debian's ``pg_lsclusters`` / ``pg_ctlcluster`` (the cluster
listening on the URL's port); that needs the right to stop and start it.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from router.chaos.children import WORKER_TIMEOUT_S, ChildWorld, aim
from router.chaos.crash import OWNER
from router.chaos.report import RunReport

COMMAND_TIMEOUT_S = 60.0


class ServerControlError(RuntimeError):
    """The PostgreSQL server could not be stopped or started: run the chaos session
    where ``pg_ctlcluster`` may control the cluster behind ``--db`` (e.g. as root or
    postgres), or leave ``--db-restarts`` out."""


@dataclass(frozen=True)
class PostgresCluster:
    """The local cluster serving a URL, as ``pg_lsclusters`` lists it."""

    version: str
    name: str

    @classmethod
    def serving(cls, db_url: str) -> PostgresCluster:
        port = make_url(db_url).port or 5432
        if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
            raise ServerControlError("pg_lsclusters / pg_ctlcluster are not installed")
        listing = _run(["pg_lsclusters", "--no-header"])
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2] == str(port):
                return cls(fields[0], fields[1])
        raise ServerControlError(f"no local PostgreSQL cluster listens on port {port}")

    def _control(self, action: str, *extra: str) -> None:
        _run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action, *extra]
        )

    def stop(self) -> None:
        self._control("stop", "-m", "fast")

    def start(self) -> None:
        self._control("start")

    def online(self) -> bool:
        listing = _run(["pg_lsclusters", "--no-header", self.version, self.name])
        return "online" in listing

    async def restart(self, down_s: float) -> None:
        """Stop the server, keep it down ``down_s`` seconds, start it again."""
        await asyncio.to_thread(self.stop)
        try:
            await asyncio.sleep(down_s)
        finally:
            await asyncio.to_thread(self.start)

    def ensure_online(self) -> None:
        if not self.online():
            self.start()


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerControlError(f"{command[0]}: {exc}") from exc
    if done.returncode != 0:
        raise ServerControlError(f"{' '.join(command[:4])}: {done.stderr.strip()[-300:]}")
    return done.stdout


async def run_db_restart(seed: int, workdir: Path, db_url: str) -> RunReport:
    """One database-restart run (see the module docstring)."""
    started = time.monotonic()
    report = RunReport(kind="db-restart", seed=seed)
    server = PostgresCluster.serving(db_url)
    async with AsyncExitStack() as stack:
        stack.callback(server.ensure_online)
        world, rng = await ChildWorld.open(stack, seed, f"db-restart-{seed}", workdir, db_url)
        router = await world.spawn(OWNER, "close")
        if await aim(rng, router, world.hedging, delay_s=0.4):
            await server.restart(rng.uniform(0.5, 3.0))
            report.db_restarts += 1
        report.note(await router.finish(WORKER_TIMEOUT_S))
        await world.check(report)
    report.seconds = time.monotonic() - started
    return report
