"""Scenario clocks: scenario seconds since the start of the simulated world."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol


class Clock(Protocol):
    def now(self) -> Decimal:
        """Scenario seconds elapsed."""
        ...


class ManualClock:
    """Moves only when told to: tests and exactly repeatable replays."""

    def __init__(self, start: Decimal = Decimal(0)) -> None:
        self._t = start

    def now(self) -> Decimal:
        return self._t

    def advance(self, seconds: Decimal) -> Decimal:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._t += seconds
        return self._t

    def set(self, t: Decimal) -> None:
        if t < self._t:
            raise ValueError("a clock does not go backwards")
        self._t = t


class ScaledClock:
    """Scenario time running ``speed`` times faster than a monotonic wall clock."""

    def __init__(
        self,
        speed: Decimal,
        monotonic: Callable[[], float] = time.monotonic,
        start: Decimal = Decimal(0),
    ) -> None:
        self.speed = speed
        self._monotonic = monotonic
        self._start = monotonic()
        self._offset = start
        self._frozen: Decimal | None = None

    def now(self) -> Decimal:
        if self._frozen is not None:
            return self._frozen
        elapsed = Decimal(repr(self._monotonic() - self._start))
        return (self._offset + elapsed * self.speed).quantize(Decimal("0.001"))

    def pause(self) -> None:
        """Hold scenario time still (while a replay sets itself up) until :meth:`restart`."""
        self._frozen = self.now()

    def restart(self, at: Decimal) -> None:
        """Continue from scenario time ``at`` as of now (never earlier than the current time)."""
        self._offset = max(at, self.now())
        self._frozen = None
        self._start = self._monotonic()

    def seconds(self) -> float:
        """Scenario time as a float, for pacing code that wants a monotonic clock."""
        return float(self.now())

    async def sleep(self, scenario_seconds: float) -> None:
        """Sleep for a span of scenario time."""
        await asyncio.sleep(max(0.0, scenario_seconds) / float(self.speed))


def wall_ms() -> int:
    """Exchange timestamps: real epoch milliseconds, as clients sign them."""
    return time.time_ns() // 1_000_000
