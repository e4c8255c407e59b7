"""Why the engine refuses a close before it starts, or an unwind before it sends."""

from __future__ import annotations

from decimal import Decimal


class CloseRefused(ValueError):
    """The close was refused before any order: nothing was journaled or sent.

    Operator: read the message, correct the request and send it again.
    """


class PositionExceeded(CloseRefused):
    """An explicit quantity is larger than what the configured venues hold.

    Operator: ask for at most what the message says is held, or for ``"all"``; a close
    never sells what the account does not have.
    """

    def __init__(self, message: str, *, held: Decimal) -> None:
        super().__init__(message)
        self.held = held
        """What the configured venues hold, all of them known."""


class UnwindRefused(ValueError):
    """An unwind was refused before any order: nothing was journaled or sent, and the
    hedge is as it was.

    Operator: read the message; it says what to change before asking again.
    """

    def __init__(self, message: str, *, hedge_id: int) -> None:
        super().__init__(message)
        self.hedge_id = hedge_id


class UnknownHedge(UnwindRefused):
    """No hedge has this id in the journal.

    Operator: list the hedges (``router hedge list``) and use an id from there.
    """


class HedgeClosed(UnwindRefused):
    """Nothing of the hedge is open: everything it sold short was bought back already.

    Operator: nothing to do; ``router hedge list --open`` shows the hedges still open.
    """


class UnwindRunning(UnwindRefused):
    """Another unwind of this hedge is running (in this router, or in another one sharing
    the journal), or orders of an earlier unwind are still unanswered.

    Operator: wait for it to finish, look at the hedge again (``router hedge list``) and
    unwind what is still open.
    """


class UnwindQuantityRefused(UnwindRefused):
    """The quantity asked cannot be bought back as one order of this hedge.

    Operator: ask for a quantity between the market's minimum order and what is open
    (both named in the message), or for no quantity to unwind everything open.
    """

    def __init__(self, message: str, *, hedge_id: int, open_qty: Decimal, minimum: Decimal) -> None:
        super().__init__(message, hedge_id=hedge_id)
        self.open_qty = open_qty
        """What is open of the hedge and not held by orders still unanswered."""
        self.minimum = minimum
        """The perpetual market's smallest order."""


class UnwindTooLarge(UnwindQuantityRefused):
    """The quantity is larger than what is open of the hedge.

    Operator: ask for at most the open quantity the message names (a reduce-only buy
    back never turns a short into a long, but a larger ask is a mistake in the request).
    """


class UnwindBelowLot(UnwindQuantityRefused):
    """The quantity (or, without one, all that is open) is below the perpetual market's
    smallest order, so no order can carry it.

    Operator: ask for at least the minimum the message names. An open remainder smaller
    than that cannot be bought back by an order of its own: close it on the venue.
    """


class UnwindThrottled(UnwindRefused):
    """The hedge was unwound less than ``service.unwind_min_interval_s`` seconds ago.

    Operator: wait ``retry_after_s`` seconds (the answer's ``Retry-After``), look at what
    the last unwind did, then ask again. The pause keeps a retrying client from sending
    an order every few milliseconds into a book that cannot take it.
    """

    def __init__(self, message: str, *, hedge_id: int, retry_after_s: int) -> None:
        super().__init__(message, hedge_id=hedge_id)
        self.retry_after_s = retry_after_s
