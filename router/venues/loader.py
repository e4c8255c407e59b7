"""Markets that failed to load are loaded again, in the background, until they load.

A venue whose markets cannot be loaded (one 429 on ``exchangeInfo`` at start, an outage)
lists nothing: the engine can neither read what it holds there nor trade there. Instead
of leaving it so until a restart, :func:`load_venue` tries once and, if that fails,
starts :func:`keep_loading` as a task: ``adapter.load()`` again after 1 s, then 2, 4, 8,
16 and every 30 s (:class:`Backoff`), never sooner than a rate-limit error's
``Retry-After``, on the injected ``sleep`` (a simulated world's scaled clock, or
``asyncio.sleep``). Each failure is the adapter's ``load_error`` and is reported to the
venue's circuit breaker; the success closes the circuit (``record_recovery``: the venue
answered), so the venue is read and traded on at once. The task ends when
the markets are loaded, or is cancelled when the exit stack it was started on closes.

Rate limits are deliberately not retried by the adapter's read retry (the venue asked
us to back off, see :func:`router.venues.errors.is_transient`); this loader is what
retries a throttled load, later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Protocol

from router.venues.adapter import retry_after_of
from router.venues.errors import VenueError, failure_kind, safe_message
from router.venues.health import CircuitBreaker

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Loadable(Protocol):
    """What the loader needs of a venue (:class:`~router.venues.adapter.VenueAdapter`)."""

    @property
    def name(self) -> str: ...

    @property
    def loaded(self) -> bool: ...

    @property
    def load_error(self) -> str | None: ...

    async def load(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff between load attempts: ``first_s``, doubling, at most ``max_s``."""

    first_s: float = 1.0
    max_s: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.max_s or self.factor < 1:
            raise ValueError("need 0 < first_s <= max_s and factor >= 1")

    def after(self, delay: float) -> float:
        """The delay that follows ``delay``."""
        return min(delay * self.factor, self.max_s)


BACKOFF = Backoff()


def report_failure(breaker: CircuitBreaker, adapter: Loadable, exc: BaseException) -> None:
    """Tell the venue's circuit breaker that loading its markets failed, and how."""
    kind = failure_kind(exc)
    detail = adapter.load_error or safe_message(exc)
    breaker.record_failure(kind, detail, retry_after_s=retry_after_of(exc))


async def keep_loading(
    adapter: Loadable,
    breaker: CircuitBreaker,
    *,
    sleep: Sleep,
    backoff: Backoff = BACKOFF,
    retry_after_s: float | None = None,
) -> int:
    """Load ``adapter``'s markets until they load; the number of attempts made.

    The first attempt comes after ``backoff.first_s`` (or ``retry_after_s``, the
    Retry-After of the failure that started the loader, if longer).
    """
    delay = backoff.first_s
    wait = max(delay, retry_after_s or 0.0)
    attempts = 0
    while not adapter.loaded:
        await sleep(wait)
        attempts += 1
        try:
            await adapter.load()
        except Exception as exc:
            report_failure(breaker, adapter, exc)
            delay = backoff.after(delay)
            wait = max(delay, retry_after_of(exc) or 0.0)
            log.warning(
                "%s: markets still not loaded (attempt %d), next attempt in %.3g s: %s",
                adapter.name,
                attempts,
                wait,
                adapter.load_error or safe_message(exc),
                exc_info=not isinstance(exc, VenueError),
            )
            continue
        breaker.record_recovery("markets loaded")
        log.info("%s: markets loaded (attempt %d)", adapter.name, attempts)
    return attempts


async def _stop(task: asyncio.Task[int]) -> None:
    """Cancel ``task`` and wait until it has ended (a cancel of the caller propagates)."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        log.error("loader %s ended with an error", task.get_name(), exc_info=task.exception())


def start_loading(
    stack: AsyncExitStack,
    adapter: Loadable,
    breaker: CircuitBreaker,
    *,
    sleep: Sleep,
    backoff: Backoff = BACKOFF,
    retry_after_s: float | None = None,
) -> asyncio.Task[int]:
    """Run :func:`keep_loading` as a task, cancelled (and awaited) when ``stack`` closes."""
    task = asyncio.create_task(
        keep_loading(adapter, breaker, sleep=sleep, backoff=backoff, retry_after_s=retry_after_s),
        name=f"load {adapter.name}",
    )
    stack.push_async_callback(_stop, task)
    return task


async def load_venue(
    stack: AsyncExitStack,
    adapter: Loadable,
    breaker: CircuitBreaker,
    *,
    sleep: Sleep,
    backoff: Backoff = BACKOFF,
) -> bool:
    """Load ``adapter``'s markets now; whether they are loaded.

    If the venue fails (a :class:`VenueError`), the failure goes to its circuit breaker
    and :func:`start_loading` keeps loading it in the background until it loads or
    ``stack`` closes. Push what the loader needs (the adapter's client) on ``stack``
    before calling this, so that the loader is stopped first.
    """
    try:
        await adapter.load()
    except VenueError as exc:
        report_failure(breaker, adapter, exc)
        log.warning(
            "%s could not be loaded, loading it again in the background: %s",
            adapter.name,
            adapter.load_error or safe_message(exc),
        )
        start_loading(
            stack, adapter, breaker, sleep=sleep, backoff=backoff, retry_after_s=retry_after_of(exc)
        )
        return False
    return True
