"""Watching orders as they leave and as their answers come back.

The engine tells an :class:`OrderObserver` about every order the moment it is sent
(after it is journaled, right before the request leaves) and once its answer is known:
the state the venue acknowledged (``FILLED``, ``PARTIALLY_FILLED``, ``CANCELED``,
``EXPIRED``, ``OPEN``), ``REJECTED`` when the venue refused it outright, or, for an
ambiguous answer, the state its look-up by client order id found (``UNKNOWN`` while
that look-up fails; the order is then settled later). The service counts these as
metrics; the engine works the same without an observer.

``purpose`` is the journal's attempt purpose: ``close`` (spot sales), ``hedge`` (perp
legs), ``unwind`` (hedge buy-backs), ``release`` (spot a hedge covered) or ``net``
(quantity crossed internally between opposite closes, on the pseudo-venue ``internal``:
no order reaches an exchange).
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class OrderObserver(Protocol):
    def sent(self, venue: str, purpose: str) -> None:
        """An order left for ``venue``."""
        ...

    def answered(self, venue: str, purpose: str, result: str, error: str | None) -> None:
        """The answer to an order is known: its state, and the venue's error class if any."""
        ...


class NoObserver:
    """Watches nothing: the default."""

    def sent(self, venue: str, purpose: str) -> None:
        return None

    def answered(self, venue: str, purpose: str, result: str, error: str | None) -> None:
        return None


NO_OBSERVER: OrderObserver = NoObserver()


def tell_sent(observer: OrderObserver, venue: str, purpose: str) -> None:
    """``observer.sent``; a failing observer is logged, never allowed to stop an order."""
    try:
        observer.sent(venue, purpose)
    except Exception:
        log.exception("order observer failed on a sent order")


def tell_answered(
    observer: OrderObserver, venue: str, purpose: str, result: str, error: str | None
) -> None:
    """``observer.answered``; a failing observer is logged, never allowed to stop a close."""
    try:
        observer.answered(venue, purpose, result, error)
    except Exception:
        log.exception("order observer failed on an answer")
