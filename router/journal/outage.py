"""Riding out a journal database outage (a PostgreSQL restart, a dropped connection).

A close must not fail because the journal's server restarted under it: a write that
could not reach the database is retried on a fresh connection, with backoff, for up to
:data:`OUTAGE_S`; only then does the error reach the caller. Errors that a retry cannot
cure (a constraint, a bad statement) are raised at once.

Retrying is safe because every journal write is idempotent except an order intent,
which is written before its order is sent: should a commit be lost together with its
answer, the retry fails on the unique client order id and the order is never sent.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)

OUTAGE_S = 60.0
"""How long a journal call waits for its database to come back before failing."""
TRANSIENT_SQLSTATES = ("57P01", "57P02", "57P03")
"""Administrator / crash shutdown, and "cannot connect now" (starting or stopping)."""


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (getattr(exc, "orig", None), exc.__cause__, exc):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (worth a retry)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = _sqlstate(exc)
        if state is not None:
            return state.startswith("08") or state in TRANSIENT_SQLSTATES
        original = exc.orig if exc.orig is not None else exc.__cause__
        if isinstance(original, OSError | ConnectionError):
            return True
        return "database is locked" in str(exc)
    return isinstance(exc, OSError | ConnectionError)


def _log_retry(state: RetryCallState) -> None:
    if state.outcome is not None and state.outcome.failed:
        error = state.outcome.exception()
        first_line = str(error).splitlines()[0][:200] if str(error) else ""
        log.warning(
            "journal database unreachable (%s: %s); retrying", type(error).__name__, first_line
        )


def ride_out(outage_s: float = OUTAGE_S) -> AsyncRetrying:
    """Retry a journal operation while its database is unreachable (see module doc)."""
    return AsyncRetrying(
        retry=retry_if_exception(is_outage),
        wait=wait_exponential(multiplier=0.05, max=1.0),
        stop=stop_after_delay(outage_s),
        before_sleep=_log_retry,
        reraise=True,
    )
