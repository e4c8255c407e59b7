"""The life of one child order, as an explicit transition table.

PENDING_SEND is written to the journal before the order leaves; SENT while the request
is on the wire; UNKNOWN when the answer was ambiguous (timeout, 5xx, garbled body) and
the order must be looked up by its client order id before anything else happens to
its quantity. REJECTED means *definitely not placed*; FILLED, CANCELED, EXPIRED and
REJECTED are final.
"""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    PENDING_SEND = "PENDING_SEND"
    SENT = "SENT"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES

    @property
    def in_doubt(self) -> bool:
        """Whether the order may hold quantity on the venue that we cannot yet account for."""
        return self in (OrderState.SENT, OrderState.UNKNOWN)


S = OrderState
FINAL_STATES = frozenset({S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED})
_OUTCOMES = frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED})

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.PENDING_SEND: frozenset({S.SENT, S.REJECTED, S.UNKNOWN}),
    S.SENT: _OUTCOMES | {S.REJECTED, S.UNKNOWN},
    S.UNKNOWN: _OUTCOMES | {S.REJECTED},
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.UNKNOWN}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.UNKNOWN}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
}
"""Every allowed move. PENDING_SEND -> REJECTED: the venue never got it (recovery found
nothing under its client order id); PENDING_SEND -> UNKNOWN: a crash between journal
and answer; PARTIALLY_FILLED -> PARTIALLY_FILLED: more fills."""


class IllegalTransition(RuntimeError):
    """A bug, not a market condition: the engine tried a move the table forbids."""


def transition(current: OrderState, new: OrderState) -> OrderState:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"order state {current} cannot become {new}")
    return new
