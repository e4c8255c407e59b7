"""Owning a close while it runs: the journal lease, renewed, and checked before sends.

Routers sharing a journal hand a close to whichever holds its lease. The running close
renews it in the background (every third of the lease) and before every wave, hedge and
outcome (:meth:`CloseLease.hold`, which raises :class:`LeaseLost` if another router
holds it by then). Right before each order leaves, :meth:`CloseLease.may_send` asks
whether the last renewal surely still holds on this router's own wall clock: a router
paused past its lease must not send, because another may already own the close.

A router shutting down hands its closes over (``Journal.hand_over``): from then on a
lease is not renewed and :meth:`CloseLease.hold` raises :class:`HandedOver`, so each
close stops at its next wave, hedge or outcome, unfinished, for another router to resume
once ``Journal.release_owned`` has ended the leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from router.journal.repository import Journal

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """Another router took this close over (this one stopped renewing its lease in time,
    e.g. it was paused or cut off from the journal). This process stops sending; the
    other one finishes the close: follow it there, nothing needs doing here."""


class HandedOver(LeaseLost):
    """This router is shutting down and hands the close over: it stopped before its next
    wave (hedge or outcome), unfinished in the journal, for another router to resume."""


@dataclass
class CloseLease:
    journal: Journal
    close_id: str
    ttl: timedelta
    wall: Callable[[], float]
    """Wall-clock seconds (the lease is wall time in the journal)."""
    sleep: Callable[[float], Awaitable[None]]
    """Waits between background renewals, in wall time."""
    lost: bool = False
    until: float = 0.0
    """Wall time until which the last renewal surely holds."""

    async def renew(self) -> None:
        if self.journal.handing_over:
            return
        asked = self.wall()
        if await self.journal.claim(self.close_id, self.ttl):
            self.until = max(self.until, asked + self.ttl.total_seconds())
        else:
            self.lost = True

    async def hold(self) -> None:
        """Renew before acting on the close; raise :class:`LeaseLost` if another router
        holds it, :class:`HandedOver` if this router is handing its closes over."""
        if self.journal.handing_over:
            raise HandedOver(f"close {self.close_id} handed over: this router is shutting down")
        if not self.lost:
            await self.renew()
        if self.lost:
            raise LeaseLost(f"another router took close {self.close_id} over")

    def may_send(self) -> bool:
        """Whether the lease surely still holds (with a tenth of it to spare)."""
        spare = self.ttl.total_seconds() / 10
        return not self.lost and self.wall() < self.until - spare

    async def _keep(self) -> None:
        while not self.lost and not self.journal.handing_over:
            await self.sleep(self.ttl.total_seconds() / 3)
            try:
                await self.renew()
            except Exception as exc:
                log.warning("could not renew the lease of %s: %s", self.close_id, exc)

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[CloseLease]:
        """Hold the lease now and renew it in the background until the block ends."""
        await self.hold()
        keeper = asyncio.create_task(self._keep(), name=f"lease {self.close_id}")
        try:
            yield self
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
