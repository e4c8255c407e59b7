"""A failure's kind is decided where ccxt's exceptions are translated, by type: the
adapter's exceptions carry it as ``kind`` and its order answers as ``failure``. Nothing
reads it from an error's name or message, so an order id such as ``…c1418…`` never
reads as a 418."""

from __future__ import annotations

from datetime import UTC, datetime

import ccxt.async_support as ccxt
import pytest

from router.venues import answers
from router.venues.errors import (
    BadVenueData,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
    failure_kind,
    health_failure,
    read_error,
)
from router.venues.model import FailureKind, Outcome

NOW = datetime(2020, 3, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "client_id", ["e7d3bfc0418f4689-c1-0", "a429b503c0e1d2f3-c2-1", "0000000000000418-n4-2"]
)
def test_an_order_id_holding_status_digits_is_not_a_status(client_id: str) -> None:
    answer = answers.placed({"id": None, "status": None}, client_id, "sell", NOW)
    assert answer.outcome is Outcome.UNKNOWN
    assert answer.failure == "error"
    failed = answers.failed(BadVenueData(f"{client_id}: the answer is not JSON"), client_id, "x")
    assert failed.failure == "error"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"), "outage"),
        (ccxt.OnMaintenance("system maintenance"), "outage"),
        (ccxt.DDoSProtection("binance 429 Too Many Requests"), "rate_limit"),
        (ccxt.DDoSProtection("binance 418 I'm a teapot"), "rate_limit"),
        (ccxt.RequestTimeout("request timed out after 10000 ms"), "timeout"),
        (ccxt.NetworkError("connection reset"), "error"),
        (ccxt.InvalidOrder('binance {"code":-1006,"msg":"Unexpected response"}'), "error"),
        (VenueUnavailable("alpha: the venue is down"), "outage"),
        (RateLimited("alpha: slow down"), "rate_limit"),
        (OutcomeUnknown("?"), "error"),
        (TypeError("ccxt's parser broke"), "error"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v,
)
def test_an_order_in_doubt_carries_its_failure_kind(exc: BaseException, kind: FailureKind) -> None:
    answer = answers.failed(exc, "c-1", str(exc))
    assert answer.outcome is Outcome.UNKNOWN
    assert answer.failure == kind


@pytest.mark.parametrize(
    "exc",
    [
        ccxt.InsufficientFunds("binance Account has insufficient balance"),
        ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure"}'),
        OrderRejected("off grid"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_refused_order_says_nothing_about_the_venue(exc: BaseException) -> None:
    answer = answers.failed(exc, "c-1", str(exc))
    assert answer.outcome is Outcome.NOT_PLACED
    assert answer.failure is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (VenueError("x"), "error"),
        (VenueUnavailable("x"), "outage"),
        (RateLimited("x"), "rate_limit"),
        (OrderRejected("x"), None),
        (OutcomeUnknown("x"), "error"),
        (BadVenueData("x"), "error"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_the_adapters_exceptions_carry_their_kind(
    error: VenueError, kind: FailureKind | None
) -> None:
    assert error.kind == kind
    assert health_failure(error) == kind
    assert failure_kind(error) == (kind or "error")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ccxt.DDoSProtection("429"), "rate_limit"),
        (ccxt.ExchangeNotAvailable("503"), "outage"),
        (ccxt.RequestTimeout("timed out"), "timeout"),
        (TimeoutError(), "timeout"),
        (ConnectionRefusedError(), "outage"),
        (ccxt.NetworkError("connection reset"), "outage"),
        (ccxt.BadResponse("garbled"), "error"),
        (ccxt.BadSymbol("-1121"), "error"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v,
)
def test_a_failed_read_carries_the_kind_of_its_type(exc: BaseException, kind: FailureKind) -> None:
    """A failed read keeps the kind ccxt's exception had; network trouble ccxt did not
    name is an outage (the venue is unreachable)."""
    error = read_error(exc, "alpha", "fetch_order_book")
    assert error.kind == kind
    assert failure_kind(error) == kind
    assert failure_kind(read_error(error, "alpha", "fetch_order_book")) == kind
