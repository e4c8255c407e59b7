"""A circuit breaker per venue: stop sending while a venue is down, probe before resuming;
and a log of when each venue last answered (:class:`AnswerLog`), for readiness.

Pure and synchronous: time comes from an injected clock (seconds, ``Decimal`` or
``float``) and nothing here does I/O. The engine asks :meth:`CircuitBreaker.allow`
before each request, reports each answer, and journals :meth:`CircuitBreaker.changes`.

- CLOSED: requests flow. The circuit opens after ``failure_threshold`` consecutive
  failures, at once on an outage (HTTP 503, connection refused), or on a rate-limit
  storm (``storm_count`` 429/418 answers within ``storm_window_s``).
- OPEN: nothing is sent until the cooldown is over. The cooldown doubles each time the
  circuit opens again without having stayed closed for ``calm_s``, up to
  ``max_cooldown_s``, and is at least as long as a venue's ``Retry-After``.
- HALF_OPEN: exactly one probe request is allowed; its success closes the circuit, its
  failure (or no answer within ``probe_timeout_s``) opens it again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from router.venues.model import FailureKind

Seconds = Decimal | float
_MAX_LEVEL = 16
"""Doublings beyond this are always past any sensible cap."""


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class CircuitChange:
    """One move of a circuit, for the journal."""

    old: CircuitState
    new: CircuitState
    reason: str
    at: Decimal
    """The clock's reading when the move happened."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cooldown_s: Decimal = Decimal(30)
    max_cooldown_s: Decimal = Decimal(480)
    storm_count: int = 3
    storm_window_s: Decimal = Decimal(10)
    calm_s: Decimal = Decimal(300)
    """A circuit that stayed closed this long starts again from ``cooldown_s``."""
    probe_timeout_s: Decimal = Decimal(30)
    """A probe without an answer after this long counts as failed."""

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.storm_count < 1:
            raise ValueError("failure_threshold and storm_count must be at least 1")
        if not 0 < self.cooldown_s <= self.max_cooldown_s:
            raise ValueError("need 0 < cooldown_s <= max_cooldown_s")
        if self.storm_window_s <= 0 or self.calm_s < 0 or self.probe_timeout_s <= 0:
            raise ValueError("storm_window_s and probe_timeout_s must be positive, calm_s >= 0")


def _seconds(value: Seconds) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


class CircuitBreaker:
    """The circuit of one venue."""

    def __init__(
        self,
        clock: Callable[[], Seconds],
        policy: BreakerPolicy | None = None,
        *,
        venue: str = "",
    ) -> None:
        self.venue = venue
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._rate_limits: deque[Decimal] = deque()
        self._open_until: Decimal | None = None
        self._level = 0
        self._closed_at: Decimal | None = None
        self._probe_sent_at: Decimal | None = None
        self._changes: list[CircuitChange] = []
        self.last_error: str | None = None
        """What the last reported failure was, for the operator's screens."""

    @property
    def state(self) -> CircuitState:
        self._refresh(self._now())
        return self._state

    @property
    def open_until(self) -> Decimal | None:
        """When the current cooldown ends (clock seconds), or ``None`` if not OPEN."""
        return self._open_until if self.state is CircuitState.OPEN else None

    def allow(self) -> bool:
        """Whether a request may be sent now. In HALF_OPEN a ``True`` is the one probe."""
        now = self._now()
        self._refresh(now)
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.HALF_OPEN and self._probe_sent_at is None:
            self._probe_sent_at = now
            return True
        return False

    def record_success(self) -> None:
        now = self._now()
        self._refresh(now)
        if self._state is CircuitState.HALF_OPEN:
            self._move(CircuitState.CLOSED, "probe succeeded", now)
            self._closed_at = now
            self._probe_sent_at = None
            self._open_until = None
        if self._state is CircuitState.CLOSED:
            self._failures = 0

    def record_recovery(self, reason: str) -> None:
        """The venue proved it answers again outside a probe (its markets loaded after
        failing to): close the circuit now instead of at the end of its cooldown."""
        now = self._now()
        self._refresh(now)
        if self._state is not CircuitState.CLOSED:
            self._move(CircuitState.CLOSED, reason, now)
            self._closed_at = now
            self._probe_sent_at = None
            self._open_until = None
        self._failures = 0
        self._rate_limits.clear()

    def record_failure(
        self,
        kind: FailureKind,
        detail: str | None = None,
        *,
        retry_after_s: Seconds | None = None,
    ) -> None:
        """Report a failed request. ``retry_after_s`` is the venue's Retry-After, if any."""
        now = self._now()
        self._refresh(now)
        self.last_error = f"{kind}: {detail}" if detail else kind
        retry_after = _seconds(retry_after_s) if retry_after_s is not None else None
        if self._state is CircuitState.OPEN:
            if retry_after is not None and self._open_until is not None:
                self._open_until = max(self._open_until, now + retry_after)
            return
        if self._state is CircuitState.HALF_OPEN:
            self._open(f"probe failed ({kind})", now, retry_after)
            return
        self._failures += 1
        if kind == "rate_limit":
            self._rate_limits.append(now)
        while self._rate_limits and self._rate_limits[0] <= now - self.policy.storm_window_s:
            self._rate_limits.popleft()
        if kind == "outage":
            self._open("outage", now, retry_after)
        elif len(self._rate_limits) >= self.policy.storm_count:
            self._open(
                f"rate-limit storm: {len(self._rate_limits)} within {self.policy.storm_window_s} s",
                now,
                retry_after,
            )
        elif self._failures >= self.policy.failure_threshold:
            self._open(f"{self._failures} consecutive failures ({kind})", now, retry_after)

    def changes(self) -> list[CircuitChange]:
        """The moves since the last call (oldest first); the list is cleared."""
        self._refresh(self._now())
        changes, self._changes = self._changes, []
        return changes

    def _now(self) -> Decimal:
        return _seconds(self._clock())

    def _refresh(self, now: Decimal) -> None:
        """Apply the moves that time alone makes: cooldown over, probe unanswered."""
        if (
            self._state is CircuitState.OPEN
            and self._open_until is not None
            and now >= self._open_until
        ):
            self._move(CircuitState.HALF_OPEN, "cooldown over", now)
            self._probe_sent_at = None
        if (
            self._state is CircuitState.HALF_OPEN
            and self._probe_sent_at is not None
            and now - self._probe_sent_at >= self.policy.probe_timeout_s
        ):
            self.last_error = "probe unanswered"
            self._open("probe unanswered", now, None)

    def _open(self, reason: str, now: Decimal, retry_after: Decimal | None) -> None:
        policy = self.policy
        recent = self._closed_at is not None and now - self._closed_at < policy.calm_s
        if self._state is CircuitState.HALF_OPEN or recent:
            self._level = min(self._level + 1, _MAX_LEVEL)
        else:
            self._level = 0
        cooldown = min(policy.cooldown_s * 2**self._level, policy.max_cooldown_s)
        if retry_after is not None:
            cooldown = max(cooldown, retry_after)
        self._open_until = now + cooldown
        self._failures = 0
        self._rate_limits.clear()
        self._probe_sent_at = None
        self._move(CircuitState.OPEN, f"{reason}; cooldown {cooldown} s", now)

    def _move(self, new: CircuitState, reason: str, now: Decimal) -> None:
        self._changes.append(CircuitChange(self._state, new, reason, now))
        self._state = new


class AnswerLog:
    """When a venue last answered and when (and how) it last failed to, for readiness.

    Kept by the venue's adapter, which every request to the venue goes through; readings
    are seconds of an injected monotonic clock (the wall's by default: readiness is about
    the venue now, not about a simulated world's time).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.answered_at: float | None = None
        """When the venue last gave a usable answer."""
        self.failed_at: float | None = None
        """When a request to the venue last failed."""
        self.last_error: str | None = None
        """What that failure was (secrets removed)."""
        self.failing = False
        """Whether the venue's last request failed (its last answer came before)."""

    def answered(self) -> None:
        self.answered_at = self.clock()
        self.failing = False

    def failed(self, error: str) -> None:
        self.failed_at = self.clock()
        self.last_error = error
        self.failing = True

    def answer_age(self) -> float | None:
        """Seconds since the last answer, or ``None`` if the venue never answered."""
        return None if self.answered_at is None else max(self.clock() - self.answered_at, 0.0)

    def error_age(self) -> float | None:
        """Seconds since the last failure, or ``None`` if nothing failed yet."""
        return None if self.failed_at is None else max(self.clock() - self.failed_at, 0.0)

    def contact_age(self) -> float | None:
        """Seconds since the venue was last asked anything (answered or not)."""
        ages = [age for age in (self.answer_age(), self.error_age()) if age is not None]
        return min(ages) if ages else None

    def answering(self, within_s: float) -> bool:
        """Whether the venue answered within ``within_s`` seconds and nothing failed since."""
        age = self.answer_age()
        return age is not None and age <= within_s and not self.failing
