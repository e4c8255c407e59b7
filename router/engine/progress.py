"""How far a running close has got: a frozen snapshot for observers, and the runner's tally.

The runner keeps a :class:`SpotTally` while it works; when it is given an observer
(``Engine.close(..., on_progress=...)``) it hands it a :class:`CloseProgress` when the
spot phase starts, after every wave and once the close has its outcome. Observers
(progress bars, event streams) read snapshots and never touch the engine; one that
raises is logged and ignored, so a display can never break a close.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from router.core.lifecycle import CloseOutcome
from router.core.purpose import OWN_PURPOSES
from router.journal.records import AttemptView

log = logging.getLogger(__name__)

ZERO = Decimal(0)

Phase = Literal["spot", "hedge", "done"]


@dataclass(frozen=True, slots=True)
class VenueProgress:
    """One venue's share of the close so far."""

    name: str
    filled: Decimal
    circuit: str = "closed"
    """The venue's circuit breaker as last reported: closed, open or half_open."""
    excluded: bool = False
    """The venue refused orders outright too often and is not asked again in this close."""


@dataclass(frozen=True, slots=True)
class CloseProgress:
    """A close as it stands after a wave (or at its start, or at its outcome)."""

    close_id: str
    symbol: str
    side: str
    requested: Decimal
    filled: Decimal
    in_doubt: Decimal
    hedged: Decimal
    wave: int
    rung: int
    tolerance: Decimal | None
    """The current rung's slippage tolerance; None is the unbounded tier."""
    limit_price: Decimal | None
    """The price cap of the last wave (None: unbounded, or no wave yet)."""
    elapsed_s: float
    """Seconds on the engine's clock since the close started (scenario time in replays)."""
    venues: tuple[VenueProgress, ...]
    phase: Phase = "spot"
    outcome: CloseOutcome | None = None

    @property
    def filled_by_venue(self) -> dict[str, Decimal]:
        return {v.name: v.filled for v in self.venues}

    @property
    def done(self) -> bool:
        return self.phase == "done"


ProgressHook = Callable[[CloseProgress], None]


@dataclass
class SpotTally:
    """The runner's running count of a close's spot phase."""

    filled: Decimal = ZERO
    in_doubt: Decimal = ZERO
    wave: int = 0
    why: str = ""
    cancelled: bool = False
    hedge_chosen: bool = False
    """The spot phase stopped because the perpetual paid more (not because spot ran dry)."""
    started: float = 0.0
    rung: int = 0
    limit_price: Decimal | None = None
    by_venue: dict[str, Decimal] = field(default_factory=dict)
    circuits: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_attempts(cls, attempts: Iterable[AttemptView], started: float) -> SpotTally:
        """Where a close stands: what its finished attempts filled, and its last wave."""
        tally = cls(started=started)
        for attempt in attempts:
            tally.wave = max(tally.wave, attempt.wave)
            if attempt.purpose in OWN_PURPOSES:
                tally.add(attempt.venue, attempt.filled_qty)
                if attempt.state.in_doubt:
                    tally.in_doubt += attempt.quantity
        return tally

    def add(self, venue: str, quantity: Decimal) -> None:
        self.filled += quantity
        self.by_venue[venue] = self.by_venue.get(venue, ZERO) + quantity

    def add_wave(self, by_venue: Mapping[str, Decimal], in_doubt: Decimal) -> None:
        for venue, quantity in by_venue.items():
            self.add(venue, quantity)
        self.in_doubt += in_doubt


@dataclass(frozen=True, slots=True)
class CloseFacts:
    """What a snapshot needs that the tally does not keep."""

    close_id: str
    symbol: str
    side: str
    requested: Decimal
    names: tuple[str, ...]
    excluded: frozenset[str]


def snapshot(
    facts: CloseFacts,
    tally: SpotTally,
    *,
    tolerance: Decimal | None,
    elapsed_s: float,
    hedged: Decimal,
    phase: Phase,
    outcome: CloseOutcome | None = None,
) -> CloseProgress:
    names = list(facts.names) + [n for n in tally.by_venue if n not in facts.names]
    return CloseProgress(
        close_id=facts.close_id,
        symbol=facts.symbol,
        side=facts.side,
        requested=facts.requested,
        filled=tally.filled,
        in_doubt=tally.in_doubt,
        hedged=hedged,
        wave=tally.wave,
        rung=tally.rung,
        tolerance=tolerance,
        limit_price=tally.limit_price,
        elapsed_s=elapsed_s,
        venues=tuple(
            VenueProgress(
                name,
                tally.by_venue.get(name, ZERO),
                tally.circuits.get(name, "closed"),
                name in facts.excluded,
            )
            for name in names
        ),
        phase=phase,
        outcome=outcome,
    )


def notify(hook: ProgressHook, progress: CloseProgress) -> None:
    """Call an observer; its failure is logged, never raised into the close."""
    try:
        hook(progress)
    except Exception:
        log.exception("progress observer failed for close %s", progress.close_id)
