"""Why the engine refuses a close before it starts."""

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
