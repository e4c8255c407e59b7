"""What the API serves from: the engine, its journal, the venues, the tokens, the closes
running in the background, and one liquidity baseline per venue, symbol and side."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from router.core.liquidity import Baseline
from router.engine.engine import Engine
from router.engine.errors import CloseRefused
from router.engine.guard import Guard
from router.engine.outcome import CloseResult
from router.engine.request import CloseRequest
from router.journal.records import CloseView
from router.journal.repository import Journal
from router.service.auth import Scope
from router.service.metrics import Metrics
from router.venues.adapter import VenueAdapter
from router.venues.health import CircuitBreaker

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.005


@dataclass
class ServiceState:
    engine: Engine
    journal: Journal
    adapters: Mapping[str, VenueAdapter]
    health: Mapping[str, CircuitBreaker]
    tokens: Mapping[str, Scope]
    metrics: Metrics = field(default_factory=Metrics)
    accept_timeout_s: float = 10.0
    """How long ``POST /v1/closes`` waits for the engine to journal the new close."""
    baselines: dict[tuple[str, str, str], Baseline] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[CloseResult]] = field(default_factory=dict)
    """Background closes by close id (kept until they finish)."""
    pending: dict[str, asyncio.Task[CloseResult]] = field(default_factory=dict)
    """Background closes by idempotency key, until they finish."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on shutdown: event streams end."""
    watchers: list[asyncio.Task[None]] = field(default_factory=list)
    """Background loops (the guard, the keeper) that run until shutdown."""

    def start(self, request: CloseRequest) -> asyncio.Task[CloseResult]:
        """Start the close in the background, or return the task already running its key."""
        key = request.idempotency_key
        running = self.pending.get(key)
        if running is not None:
            return running
        task = asyncio.create_task(self._run(request), name=f"close {key}")
        self.pending[key] = task
        return task

    async def _run(self, request: CloseRequest) -> CloseResult:
        try:
            result = await self.engine.close(request)
        except (asyncio.CancelledError, CloseRefused):
            raise
        except Exception:
            log.exception("close %s failed", request.idempotency_key)
            self.metrics.closes.labels(outcome="ERROR").inc()
            raise
        finally:
            self.pending.pop(request.idempotency_key, None)
        attempts = await self.journal.attempts(result.close_id)
        self.metrics.record_close(result.outcome or "UNKNOWN", result.duration_s, attempts)
        self.tasks.pop(result.close_id, None)
        return result

    async def wait_for_id(self, key: str, task: asyncio.Task[CloseResult]) -> str | None:
        """The close id of ``key`` once the engine has journaled it (bounded wait)."""
        deadline = time.monotonic() + self.accept_timeout_s
        while True:
            # done before the lookup: a close the task journaled is visible to it
            finished = task.done()
            close = await self.journal.close_by_key(key)
            if close is not None:
                if not task.done():
                    self.tasks[close.id] = task
                return close.id
            if finished or time.monotonic() >= deadline:
                return None
            await asyncio.sleep(POLL_INTERVAL_S)

    def running(self, close_id: str) -> bool:
        task = self.tasks.get(close_id)
        return task is not None and not task.done()

    def watch(self, guard: Guard, poll_s: float) -> asyncio.Task[None]:
        """Run ``guard`` in the background until shutdown: one check every ``poll_s``
        seconds of the engine's pacing; a failed check is logged and the next one runs."""
        task = asyncio.create_task(self._guard(guard, poll_s), name="guard")
        self.watchers.append(task)
        return task

    async def _guard(self, guard: Guard, poll_s: float) -> None:
        while not self.stopping.is_set() and guard.open_quantity() > 0:
            try:
                triggers = await guard.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("guard check failed")
            else:
                for trigger in triggers:
                    log.warning("guard: %s", trigger.reason)
            await guard.engine.pacing.sleep(poll_s)

    def keep(self, every_s: float) -> asyncio.Task[None]:
        """Run the keeper until shutdown: at start and every ``every_s`` seconds, resume
        the closes nobody holds (this router's crashed runs, or another router's whose
        lease expired) and settle the orders finished closes left in doubt."""
        task = asyncio.create_task(self._keep(every_s), name="keeper")
        self.watchers.append(task)
        return task

    def _busy(self, close: CloseView) -> bool:
        return close.idempotency_key in self.pending or self.running(close.id)

    async def _keep(self, every_s: float) -> None:
        while not self.stopping.is_set():
            try:
                for request in await self.engine.reconcile(self._busy):
                    log.warning("keeper: resuming close %s", request.idempotency_key)
                    self.start(request)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("keeper pass failed")
            await self.engine.pacing.lease_sleep(every_s)

    async def shutdown(self) -> None:
        """Stop the guard and the background closes; the journal's lease lets ``resume``
        finish the closes."""
        self.stopping.set()
        closes = {*self.tasks.values(), *self.pending.values()}
        tasks: list[asyncio.Task[Any]] = [t for t in (*closes, *self.watchers) if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


STATE: web.AppKey[ServiceState] = web.AppKey("state", ServiceState)


def state_of(request: web.Request) -> ServiceState:
    """The service state of the application serving ``request``."""
    return request.app[STATE]
