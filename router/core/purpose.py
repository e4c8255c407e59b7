"""Why an order was sent: the journal's attempt purposes, and which are the close's own."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    CLOSE = "close"
    """A spot order selling (or buying back) the position on a venue."""
    NET = "net"
    """Quantity crossed internally with an opposite close, at the mid (venue ``internal``)."""
    HEDGE = "hedge"
    """A perpetual leg covering what spot could not close."""
    UNWIND = "unwind"
    """A reduce-only perpetual order buying a hedge back."""
    RELEASE = "release"
    """A spot order selling the inventory a hedge covers, before that hedge is unwound."""


OWN_PURPOSES = frozenset({Purpose.CLOSE, Purpose.NET})
"""The close's own orders: what they fill takes the position out and is the close's
``filled`` (everywhere: the engine's tally, the outcome, the API, the audit). Hedge legs,
unwinds and releases are counted apart."""
