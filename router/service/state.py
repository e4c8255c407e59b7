"""What the API serves from: the engine, its journal, the venues, the tokens, the closes
running in the background, and one liquidity baseline per venue, symbol and side.

On shutdown the service first drains (:meth:`ServiceState.drain`): it refuses new
requests that act, lets each running close finish the wave under way, stops it there
(unfinished: no outcome is stated) and ends its lease, so that another router sharing the
journal resumes it at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from router.core.liquidity import Baseline
from router.engine.engine import Engine
from router.engine.errors import CloseRefused
from router.engine.guard import Guard
from router.engine.lease import HandedOver, LeaseLost
from router.engine.outcome import CloseResult
from router.engine.request import CloseRequest
from router.journal.records import CloseView
from router.journal.repository import Journal
from router.service.auth import Scope
from router.service.metrics import Metrics
from router.service.readiness import Readiness
from router.venues.adapter import VenueAdapter
from router.venues.health import CircuitBreaker

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.005


class KeyInUse(Exception):
    """A different request is already running under this idempotency key."""


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
    launched: dict[asyncio.Task[CloseResult], CloseRequest] = field(default_factory=dict)
    """The request each background close runs, until it finishes."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on shutdown: event streams end."""
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the service starts draining before shutdown: requests that act are refused
    (503) and the running closes are handed over (see :meth:`drain`)."""
    watchers: list[asyncio.Task[None]] = field(default_factory=list)
    """Background loops (the guard, the keeper) that run until shutdown."""
    keeper: asyncio.Task[None] | None = None
    """The keeper's loop (one of ``watchers``), stopped first when draining."""
    readiness: Readiness = field(default_factory=Readiness)
    """Which venues answer now (``GET /readyz``)."""

    def start(self, request: CloseRequest) -> asyncio.Task[CloseResult]:
        """Start the close in the background, or return the task already running the same
        request under its key; a different request under a running key raises
        :class:`KeyInUse` (one key names one request, so exactly one of them runs)."""
        key = request.idempotency_key
        running = self.pending.get(key)
        if running is not None:
            if self.launched.get(running, request) != request:
                raise KeyInUse(key)
            return running
        task = asyncio.create_task(self._run(request), name=f"close {key}")
        self.pending[key] = task
        self.launched[task] = request
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[CloseResult]) -> None:
        self.launched.pop(task, None)
        if not task.cancelled():
            # How the close ended is logged by _run (a close taken over by another router
            # as a warning): asyncio must not report it again as never retrieved.
            task.exception()

    async def _run(self, request: CloseRequest) -> CloseResult:
        started = time.monotonic()  # time to flat is wall-clock, not the engine's clock
        try:
            result = await self.engine.close(request)
        except (asyncio.CancelledError, CloseRefused, HandedOver):
            raise
        except LeaseLost as exc:
            # Another router holds the close now (this one's lease had expired): the
            # close goes on there, nothing failed here.
            log.warning("close %s stopped here: %s", request.idempotency_key, exc)
            raise
        except Exception:
            log.exception("close %s failed", request.idempotency_key)
            self.metrics.closes.labels(outcome="ERROR").inc()
            raise
        finally:
            self.pending.pop(request.idempotency_key, None)
        seconds = time.monotonic() - started
        self.metrics.record_close(result.outcome or "UNKNOWN", seconds)
        log.info("close %s finished %s in %.3f s", result.close_id, result.outcome, seconds)
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

    def _on(self) -> bool:
        """Whether the background loops go on (neither draining nor stopping)."""
        return not self.stopping.is_set() and not self.draining.is_set()

    async def _guard(self, guard: Guard, poll_s: float) -> None:
        while self._on() and guard.open_quantity() > 0:
            try:
                triggers = await guard.check_once()
            except (asyncio.CancelledError, HandedOver):
                # handed over: the close the guard was running stays for a successor
                raise
            except Exception:
                log.exception("guard check failed")
            else:
                for trigger in triggers:
                    log.warning("guard: %s", trigger.reason)
            await self._unless_draining(guard.engine.pacing.sleep(poll_s))

    async def _unless_draining(self, wait: Awaitable[None]) -> None:
        """Wait for ``wait``, or only until the service starts draining."""
        waiting = asyncio.ensure_future(wait)
        drained = asyncio.ensure_future(self.draining.wait())
        try:
            await asyncio.wait({waiting, drained}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, drained):
                task.cancel()

    def keep(self, every_s: float) -> asyncio.Task[None]:
        """Run the keeper until shutdown: at start and every ``every_s`` seconds, resume
        the closes nobody holds (this router's crashed runs, or another router's whose
        lease expired) and settle the orders finished closes left in doubt."""
        task = asyncio.create_task(self._keep(every_s), name="keeper")
        self.watchers.append(task)
        self.keeper = task
        return task

    def _busy(self, close: CloseView) -> bool:
        return close.idempotency_key in self.pending or self.running(close.id)

    async def _keep(self, every_s: float) -> None:
        while self._on():
            try:
                for request in await self.engine.reconcile(self._busy):
                    log.warning("keeper: resuming close %s", request.idempotency_key)
                    await self._resume(request)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("keeper pass failed")
            await self.engine.pacing.lease_sleep(every_s)

    async def _resume(self, request: CloseRequest) -> None:
        """Run a close the keeper took over, known by its id while it runs (so that
        ``GET /v1/closes/{id}`` says it is running)."""
        task = self.start(request)
        close = await self.journal.close_by_key(request.idempotency_key)
        if close is not None and not task.done():
            self.tasks[close.id] = task

    def _background(self) -> list[asyncio.Task[Any]]:
        closes = {*self.tasks.values(), *self.pending.values()}
        return [t for t in (*closes, *self.watchers) if not t.done()]

    async def drain(self, bound_s: float) -> list[CloseView]:
        """Hand this router's closes over before it stops; the closes handed over.

        Requests that act are refused from now on; the journal claims and renews no lease
        any more, so each running close (the guard's too) stops before its next wave,
        hedge or outcome, with no outcome stated. Closes still running after ``bound_s``
        seconds (in a wave, or waiting for the next) are cancelled. Then every unfinished
        close this router holds has its lease ended, one log line each: any router
        sharing the journal resumes them at its keeper's next pass.
        """
        self.draining.set()
        self.journal.hand_over()
        if self.keeper is not None:
            self.keeper.cancel()
        running = self._background()
        closes = {t for t in (*self.tasks.values(), *self.pending.values()) if not t.done()}
        log.warning("shutting down: new closes refused, %d running to hand over", len(closes))
        if running:
            _, late = await asyncio.wait(running, timeout=bound_s)
            for task in late:
                log.warning("%s still running after %g s: stopped", task.get_name(), bound_s)
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        try:
            handed = await self.journal.release_owned()
        except Exception:
            log.exception("could not release the leases: the closes resume once they expire")
            return []
        for close in handed:
            log.warning(
                "handed over close %s (key %s, %s): lease released for another router",
                close.id,
                close.idempotency_key,
                close.state,
            )
        return handed

    async def shutdown(self) -> None:
        """Stop the guard, the keeper and the background closes (a close not handed over
        by :meth:`drain` is resumed by a router once its lease has expired); event
        streams end."""
        self.stopping.set()
        tasks = self._background()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.readiness.close()


STATE: web.AppKey[ServiceState] = web.AppKey("state", ServiceState)


def state_of(request: web.Request) -> ServiceState:
    """The service state of the application serving ``request``."""
    return request.app[STATE]
