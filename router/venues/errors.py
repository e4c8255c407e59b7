"""What went wrong at a venue, and what it means for an order (DESIGN.md section 5).

ccxt's exceptions are translated here, once: :func:`classify` decides whether an
order call definitely did not place an order or left its fate unknown,
:func:`health_failure` tells the circuit breaker what kind of trouble the venue is
in, and :func:`read_error` turns a failed read into one of the exceptions below.

Each exception below carries its :data:`FailureKind` as ``kind``, and the adapter's
answer to an order carries it as ``PlaceResult.failure``: whoever reports a failure to
a circuit breaker reads the kind from there, never from an error's name or message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import aiohttp
import ccxt.async_support as ccxt

from router.venues.model import FailureKind, Outcome


class VenueError(Exception):
    """A venue could not do what was asked. Read the subclass for what to do about it."""

    kind: FailureKind | None = "error"
    """What this failure says about the venue's health; ``None`` when it says nothing
    (a refusal of one request is about the request, not the venue). Each class states
    its own; :func:`read_error` sets it where the type alone would say less than ccxt's
    exception did (a read that timed out is a ``VenueUnavailable`` of kind ``timeout``)."""


class VenueUnavailable(VenueError):
    """The venue is down, unreachable or timing out.

    Operator: nothing to do for a single occurrence; the circuit breaker stops traffic
    while it lasts and the router re-plans the quantity on other venues. A lasting
    outage with an open position is a reason to check the venue's status page.
    """

    kind: FailureKind | None = "outage"


class RateLimited(VenueUnavailable):
    """The venue throttles us (HTTP 429) or banned our IP for a while (HTTP 418).

    Operator: back off. A storm of these opens the circuit; if it keeps happening,
    lower the polling rate or move reads to the websocket streams.
    """

    kind: FailureKind | None = "rate_limit"

    retry_after_s: float | None = None
    """The venue's ``Retry-After`` in seconds, when its answer said."""


class OrderRejected(VenueError):
    """The venue definitely did not place the order (funds, filters, parameters, auth).

    Operator: the quantity is free to re-plan. Repeated rejections of the same kind
    (insufficient balance, lot size, price band) point at a configuration or
    accounting mismatch worth a look.
    """

    kind: FailureKind | None = None


class OutcomeUnknown(VenueError):
    """An order request may or may not have reached the book.

    Operator: the order must be looked up by its client order id before its quantity
    is used again; the router does this by itself. If the venue cannot answer the
    lookup, the quantity stays in doubt and the close waits for the operator.
    """


class BadVenueData(VenueError):
    """The venue answered garbage: an unparsable body, an impossible book, wrong types.

    Operator: treat the venue as unhealthy for now; if it persists, the venue's API may
    have changed under the installed ccxt version.
    """


_AMBIGUOUS_CODES = frozenset({-1000, -1001, -1006, -1007, -1008})
"""Binance codes that say the request's execution status is unknown."""

_REJECT_CODES = frozenset(
    {
        -1013,  # filter failure / invalid message
        -1014,  # unsupported order composition
        -1020,  # unsupported operation
        -1021,  # timestamp outside recvWindow: the request was not processed
        -1022,  # invalid signature
        -2010,  # new order rejected (insufficient balance, duplicate, would take ...)
        -2011,  # cancel rejected
        -2013,  # no such order
        -2014,  # API-key format invalid
        -2015,  # invalid API-key, IP or permissions
        -2018,  # balance insufficient
        -2019,  # margin insufficient
        -2020,  # unable to fill (FOK)
        -2021,  # order would immediately trigger
        -2022,  # reduce-only order rejected
        -2023,  # user in liquidation mode
        -2024,  # balance insufficient
        -2025,  # too many open orders
        -2026,  # order type not supported for reduce-only
        -2027,  # exceeds the maximum position at the current leverage
        -2028,  # leverage smaller than permitted
        -5021,  # FOK order rejected: it could not be filled at once
        -5022,  # post-only order rejected: it would have taken
    }
)


def _is_reject_code(code: int) -> bool:
    """Binance 4xx-class codes that mean the request was refused before any matching.

    11xx are request-parameter errors and 40xx the USD-M filter and parameter checks.
    """
    return code in _REJECT_CODES or -1199 <= code <= -1100 or -4999 <= code <= -4000


_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')


def venue_code(exc: BaseException) -> int | None:
    """The Binance error code an exception's message carries, if any."""
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


_NOT_PLACED = (
    ccxt.InsufficientFunds,
    ccxt.InvalidOrder,
    ccxt.BadRequest,
    ccxt.AuthenticationError,
)
"""Also covers OrderNotFound, DuplicateOrderId (InvalidOrder), BadSymbol (BadRequest)
and PermissionDenied (AuthenticationError)."""


def classify(exc: BaseException) -> Outcome:
    """The outcome of an order call that raised ``exc``.

    NOT_PLACED only for definite rejections; everything else, including exceptions
    nobody anticipated, is UNKNOWN and must be looked up by client order id.
    """
    if isinstance(exc, OrderRejected):
        return Outcome.NOT_PLACED
    if isinstance(exc, VenueError):
        return Outcome.UNKNOWN
    if not isinstance(exc, ccxt.BaseError):
        return Outcome.UNKNOWN
    code = venue_code(exc)
    if code in _AMBIGUOUS_CODES:
        return Outcome.UNKNOWN
    if isinstance(exc, _NOT_PLACED):
        return Outcome.NOT_PLACED
    if isinstance(exc, ccxt.OperationFailed):
        return Outcome.UNKNOWN
    if isinstance(exc, ccxt.ExchangeError) and code is not None and _is_reject_code(code):
        return Outcome.NOT_PLACED
    return Outcome.UNKNOWN


def health_failure(exc: BaseException) -> FailureKind | None:
    """What ``exc`` says about the venue's health, for the circuit breaker.

    ``None`` when it says nothing: a definite rejection of one request (funds, filters,
    an unknown order) is about the request, not the venue. The adapter's own exceptions
    say it themselves (``kind``); ccxt's are judged by their type.
    """
    if isinstance(exc, VenueError):
        return exc.kind
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return "rate_limit"
    if isinstance(exc, ccxt.RequestTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        return "outage"
    if isinstance(exc, ccxt.AuthenticationError):
        return "error"
    if isinstance(exc, _NOT_PLACED):
        return None
    return "error"


def failure_kind(exc: BaseException) -> FailureKind:
    """The kind to report for a request that failed with ``exc``: its
    :func:`health_failure`, or ``error`` when that says nothing (the failure still
    counts against the venue)."""
    return health_failure(exc) or "error"


def read_error(exc: BaseException, venue: str, action: str) -> VenueError:
    """The exception to raise when a read (``action``, e.g. "fetch_order_book") failed."""
    message = f"{venue}: {action} failed: {safe_message(exc)}"
    kind = health_failure(exc)
    if kind == "rate_limit":
        return RateLimited(message)
    if isinstance(exc, ccxt.BadResponse):
        return BadVenueData(message)
    if kind in ("outage", "timeout") or isinstance(
        exc, ccxt.NetworkError | aiohttp.ClientError | OSError
    ):
        unavailable = VenueUnavailable(message)
        if kind == "timeout":
            unavailable.kind = kind
        return unavailable
    if isinstance(exc, VenueError):
        error = type(exc)(message)
        error.kind = exc.kind
        return error
    if isinstance(exc, ccxt.BaseError):
        return VenueError(message)
    return BadVenueData(f"{message} (the answer broke ccxt's parser)")


def is_transient(exc: BaseException) -> bool:
    """Whether a read is worth retrying at once: network trouble, but not throttling."""
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded | RateLimited):
        return False
    return isinstance(
        exc, ccxt.NetworkError | TimeoutError | aiohttp.ClientError | VenueUnavailable
    )


_SIGNED_PARAM = re.compile(r"(signature|apiKey|api_key|secret)=[^&\s]*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
MAX_MESSAGE = 500


def safe_message(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """``exc``'s message, fit for logs and the journal: signatures and keys removed,
    whitespace collapsed, at most :data:`MAX_MESSAGE` characters."""
    text = str(exc) or type(exc).__name__
    text = _SIGNED_PARAM.sub(r"\1=[redacted]", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _SPACE.sub(" ", text).strip()
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 3] + "..."
    return text
