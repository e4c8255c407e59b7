"""The engine's injected time: scenario time for waves and waits, wall time for leases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass
class Pacing:
    """Injected time: ``monotonic`` seconds and ``sleep``, so tests run crises fast."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    retry_after_empty_s: float = 0.25
    doubt_recheck_s: float = 5.0
    """How long a close whose only remainder is in doubt waits before looking again."""
    resolve_within_s: float = 30.0
    """How long a close keeps asking venues whose holdings are unknown (within its
    deadline) before it ends with them named as unknown."""
    stuck_grace_s: float = 5.0
    """How long the rest may wait for the venues holding it to trade again before the
    spot phase ends (and the rest is hedged on the venues that can)."""
    lease: timedelta = timedelta(seconds=30)
    """How long a close stays this router's after its last renewal (journal time); a
    second router sharing the journal takes it over only once the lease has expired."""
    lease_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    """Waits between lease renewals (a third of the lease): wall time, like the lease."""
    wall: Callable[[], float] = time.monotonic
    """Wall-clock seconds, to know locally until when the lease surely holds."""
