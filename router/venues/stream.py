"""Websocket order books kept current in the background, with their age.

``watch_order_book`` returns only when the book changes, so it cannot be awaited on
demand. Each watched symbol gets a task that keeps awaiting it and records a copy of
the levels with the local time of arrival; readers take the latest copy if it is
fresh enough and fall back to REST otherwise.

No depth is passed to ``watch_order_book``: ccxt then syncs the diff stream against
its default snapshot (1,000 levels on Binance), so levels that move up into the
kept depth after a sweep are real ones rather than gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router.venues.errors import safe_message

log = logging.getLogger(__name__)

RawLevels = list[tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class StreamedBook:
    bids: RawLevels
    asks: RawLevels
    received_at: datetime


def _copy(side: Any, depth: int) -> RawLevels:
    return [(level[0], level[1]) for level in side[:depth]]


class BookStream:
    """One symbol's websocket book on a ``ccxt.pro`` client."""

    def __init__(
        self,
        pro: Any,
        symbol: str,
        keep: int,
        *,
        clock: Callable[[], datetime],
        retry_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.symbol = symbol
        self.keep = keep
        """How many levels per side each copy holds; readers may raise it."""
        self.latest: StreamedBook | None = None
        """The last book received since the stream last failed."""
        self.last_error: str | None = None
        self._pro = pro
        self._clock = clock
        self._retry_s = retry_s
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"book-stream {self.symbol}")

    def fresh(self, now: datetime, stale_after_s: float) -> StreamedBook | None:
        """The latest book if it arrived within ``stale_after_s`` of ``now``."""
        latest = self.latest
        if latest is None or (now - latest.received_at).total_seconds() > stale_after_s:
            return None
        return latest

    async def _run(self) -> None:
        while True:
            try:
                book = await self._pro.watch_order_book(self.symbol)
                self.latest = StreamedBook(
                    _copy(book["bids"], self.keep), _copy(book["asks"], self.keep), self._clock()
                )
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.latest = None
                self.last_error = safe_message(exc)
                log.warning("book stream %s failed: %s", self.symbol, self.last_error)
                await self._sleep(self._retry_s)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
