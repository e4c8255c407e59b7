"""The lives of a close and of its hedges, as explicit transition tables.

A close is ACCEPTED when journaled, RUNNING while a router works on it, NEEDS_OPERATOR
when recovery could not reconcile it (a venue could not answer), and DONE once it has
stated its :class:`CloseOutcome`. A hedge row is OPENING while its legs are sent, OPEN
once they filled (CLOSED at once if none did), UNWINDING while it is bought back in
parts, and CLOSED when nothing of it is left. The values are the journal's strings.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from router.core.orders import IllegalTransition


class CloseState(StrEnum):
    ACCEPTED = "ACCEPTED"
    RUNNING = "RUNNING"
    NEEDS_OPERATOR = "NEEDS_OPERATOR"
    DONE = "DONE"


class CloseOutcome(StrEnum):
    """What a finished close states: sold (FLAT), covered by a perp short (HEDGED), or
    left with a named residual (STRANDED)."""

    FLAT = "FLAT"
    HEDGED = "HEDGED"
    STRANDED = "STRANDED"


class HedgeState(StrEnum):
    OPENING = "OPENING"
    OPEN = "OPEN"
    UNWINDING = "UNWINDING"
    CLOSED = "CLOSED"


C = CloseState
CLOSE_TRANSITIONS: dict[CloseState, frozenset[CloseState]] = {
    C.ACCEPTED: frozenset({C.RUNNING, C.NEEDS_OPERATOR, C.DONE}),
    C.RUNNING: frozenset({C.RUNNING, C.NEEDS_OPERATOR, C.DONE}),
    C.NEEDS_OPERATOR: frozenset({C.RUNNING, C.NEEDS_OPERATOR, C.DONE}),
    C.DONE: frozenset(),
}
"""Every allowed move. RUNNING -> RUNNING and NEEDS_OPERATOR -> NEEDS_OPERATOR: a close
resumed or reconciled again; nothing leaves DONE (a restatement changes the outcome and
the figures, not the state)."""

H = HedgeState
HEDGE_TRANSITIONS: dict[HedgeState, frozenset[HedgeState]] = {
    H.OPENING: frozenset({H.OPEN, H.CLOSED}),
    H.OPEN: frozenset({H.OPEN, H.UNWINDING, H.CLOSED}),
    H.UNWINDING: frozenset({H.UNWINDING, H.CLOSED}),
    H.CLOSED: frozenset({H.OPEN}),
}
"""Every allowed move. OPENING -> CLOSED: no leg filled; OPEN -> OPEN: a leg left in doubt
filled later; CLOSED -> OPEN: such a late fill on a hedge that had closed empty."""


def close_transition(current: CloseState, new: CloseState) -> CloseState:
    if new not in CLOSE_TRANSITIONS[current]:
        raise IllegalTransition(f"close state {current} cannot become {new}")
    return new


def hedge_transition(current: HedgeState, new: HedgeState) -> HedgeState:
    if new not in HEDGE_TRANSITIONS[current]:
        raise IllegalTransition(f"hedge state {current} cannot become {new}")
    return new


def opened(quantity: Decimal) -> HedgeState:
    """The state of a hedge whose legs are all known: OPEN if they filled anything."""
    return H.OPEN if quantity > 0 else H.CLOSED


def unwound_state(unwound_qty: Decimal, quantity: Decimal) -> HedgeState:
    """The state of a hedge bought back by ``unwound_qty`` of its ``quantity``."""
    return H.CLOSED if unwound_qty >= quantity else H.UNWINDING
