"""ccxt exceptions to outcomes (DESIGN.md section 5), health kinds and read errors."""

from __future__ import annotations

import aiohttp
import ccxt.async_support as ccxt
import pytest

from router.venues.errors import (
    BadVenueData,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
    classify,
    health_failure,
    is_transient,
    read_error,
    safe_message,
    venue_code,
)
from router.venues.model import Outcome

NOT_PLACED = Outcome.NOT_PLACED
UNKNOWN = Outcome.UNKNOWN


def _binance(code: int, msg: str) -> str:
    return f'binance {{"code":{code},"msg":"{msg}"}}'


CASES: list[tuple[BaseException, Outcome]] = [
    # definitely not placed, by class
    (ccxt.InsufficientFunds("binance Account has insufficient balance"), NOT_PLACED),
    (ccxt.InvalidOrder(_binance(-2010, "Duplicate order sent.")), NOT_PLACED),
    (ccxt.OrderNotFound(_binance(-2013, "Order does not exist.")), NOT_PLACED),
    (ccxt.DuplicateOrderId("duplicate"), NOT_PLACED),
    (ccxt.OrderImmediatelyFillable("would take"), NOT_PLACED),
    (ccxt.BadRequest(_binance(-1013, "Filter failure: NOTIONAL")), NOT_PLACED),
    (ccxt.BadSymbol(_binance(-1121, "Invalid symbol.")), NOT_PLACED),
    (ccxt.AuthenticationError(_binance(-2015, "Invalid API-key")), NOT_PLACED),
    (ccxt.PermissionDenied("no trading permission"), NOT_PLACED),
    (ccxt.AccountSuspended("suspended"), NOT_PLACED),
    # definitely not placed: plain ExchangeError carrying a Binance reject code
    (ccxt.ExchangeError(_binance(-2010, "Order would immediately match and take.")), NOT_PLACED),
    (ccxt.ExchangeError(_binance(-2019, "Margin is insufficient.")), NOT_PLACED),
    (ccxt.ExchangeError(_binance(-2022, "ReduceOnly Order is rejected.")), NOT_PLACED),
    (ccxt.ExchangeError(_binance(-4164, "Order's notional must be no smaller")), NOT_PLACED),
    (ccxt.ExchangeError(_binance(-1013, "Invalid quantity.")), NOT_PLACED),
    (ccxt.ExchangeError(_binance(-1111, "Precision is over the maximum")), NOT_PLACED),
    (ccxt.ExchangeError(_binance(-1102, "Mandatory parameter 'side'")), NOT_PLACED),
    (ccxt.ExchangeError(_binance(-1100, "Illegal characters")), NOT_PLACED),
    (ccxt.OperationRejected(_binance(-4131, "PERCENT_PRICE filter limit")), NOT_PLACED),
    # unknown: network class, whatever the code says
    (ccxt.NetworkError("connection reset"), UNKNOWN),
    (ccxt.RequestTimeout(_binance(-1007, "Timeout waiting for response")), UNKNOWN),
    (ccxt.ExchangeNotAvailable("binance 503 Service Temporarily Unavailable"), UNKNOWN),
    (ccxt.OnMaintenance("maintenance"), UNKNOWN),
    (ccxt.DDoSProtection("binance 429 Too Many Requests"), UNKNOWN),
    (ccxt.RateLimitExceeded(_binance(-1003, "Too many requests")), UNKNOWN),
    (ccxt.RateLimitExceeded(_binance(-1015, "Too many new orders")), UNKNOWN),
    (ccxt.InvalidNonce(_binance(-1021, "Timestamp outside recvWindow")), UNKNOWN),
    (ccxt.OperationFailed(_binance(-1000, "An unknown error occurred")), UNKNOWN),
    (ccxt.BadResponse(_binance(-1006, "unexpected response; execution status unknown")), UNKNOWN),
    (ccxt.NullResponse("empty body"), UNKNOWN),
    (ccxt.CancelPending("cancel pending"), UNKNOWN),
    # unknown: execution status unknown even when ccxt calls it a plain error
    (ccxt.ExchangeError(_binance(-1006, "execution status unknown")), UNKNOWN),
    (ccxt.ExchangeError(_binance(-1007, "send status unknown")), UNKNOWN),
    (ccxt.InvalidOrder(_binance(-1007, "send status unknown")), UNKNOWN),
    # unknown: an unmapped error without a reject code (a 5xx page, a new code)
    (ccxt.ExchangeError("binance POST https://api.binance.com/api/v3/order 520 <html>"), UNKNOWN),
    (ccxt.ExchangeError(_binance(-1001, "Internal error; unable to process")), UNKNOWN),
    (ccxt.ExchangeError(_binance(-9999, "something new")), UNKNOWN),
    (ccxt.ExchangeError("binance something went wrong"), UNKNOWN),
    (ccxt.NotSupported("not supported"), UNKNOWN),
    (ccxt.BaseError("base"), UNKNOWN),
    # unknown: outside ccxt's hierarchy
    (TimeoutError(), UNKNOWN),
    (aiohttp.ClientConnectionError("reset"), UNKNOWN),
    (aiohttp.ServerDisconnectedError(), UNKNOWN),
    (TypeError("'str' object is not subscriptable"), UNKNOWN),
    (ConnectionResetError(), UNKNOWN),
    # our own
    (OrderRejected("off grid"), NOT_PLACED),
    (OutcomeUnknown("?"), UNKNOWN),
    (BadVenueData("garbage"), UNKNOWN),
]


@pytest.mark.parametrize(("exc", "expected"), CASES, ids=lambda v: type(v).__name__)
def test_classify(exc: BaseException, expected: Outcome) -> None:
    assert classify(exc) is expected


def test_venue_code_reads_binance_bodies() -> None:
    assert venue_code(ccxt.ExchangeError(_binance(-2019, "Margin"))) == -2019
    assert venue_code(ccxt.ExchangeError('binance {"code": -1013, "msg": "x"}')) == -1013
    assert venue_code(ccxt.ExchangeError("binance 503")) is None


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ccxt.DDoSProtection("429"), "rate_limit"),
        (ccxt.RateLimitExceeded("-1003"), "rate_limit"),
        (RateLimited("x"), "rate_limit"),
        (ccxt.RequestTimeout("-1007"), "timeout"),
        (TimeoutError(), "timeout"),
        (ccxt.ExchangeNotAvailable("503"), "outage"),
        (VenueUnavailable("down"), "outage"),
        (ccxt.AuthenticationError("-2015"), "error"),
        (ccxt.ExchangeError("500"), "error"),
        (BadVenueData("garbage"), "error"),
        (ccxt.InsufficientFunds("-2010"), None),
        (ccxt.InvalidOrder("-1013"), None),
        (ccxt.OrderNotFound("-2013"), None),
        (ccxt.BadRequest("-1102"), None),
        (OrderRejected("off grid"), None),
    ],
)
def test_health_failure(exc: BaseException, kind: str | None) -> None:
    assert health_failure(exc) == kind


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ccxt.DDoSProtection("429"), RateLimited),
        (ccxt.ExchangeNotAvailable("503"), VenueUnavailable),
        (ccxt.RequestTimeout("timeout"), VenueUnavailable),
        (aiohttp.ClientConnectionError("reset"), VenueUnavailable),
        (ccxt.BadResponse("garbled"), BadVenueData),
        (TypeError("parser broke"), BadVenueData),
        (BadVenueData("crossed"), BadVenueData),
        (ccxt.BadSymbol("-1121"), VenueError),
    ],
)
def test_read_error_types(exc: BaseException, expected: type[VenueError]) -> None:
    translated = read_error(exc, "alpha", "fetch_order_book")
    assert type(translated) is expected
    assert str(translated).startswith("alpha: fetch_order_book failed:")


def test_only_network_trouble_is_retried() -> None:
    assert is_transient(ccxt.RequestTimeout("t"))
    assert is_transient(ccxt.ExchangeNotAvailable("503"))
    assert is_transient(aiohttp.ClientConnectionError())
    assert not is_transient(ccxt.DDoSProtection("429"))
    assert not is_transient(ccxt.RateLimitExceeded("-1003"))
    assert not is_transient(ccxt.InvalidOrder("-1013"))
    assert not is_transient(ccxt.BadResponse("garbled"))


def test_safe_message_removes_signatures_and_secrets() -> None:
    exc = ccxt.ExchangeNotAvailable(
        "binance GET https://api.binance.com/api/v3/order?timestamp=1&symbol=BTCUSDT"
        "&signature=8ebff875\n503 Service Unavailable <html>\n<body>KEY123</body>"
    )
    text = safe_message(exc, ["KEY123", None])
    assert "8ebff875" not in text
    assert "KEY123" not in text
    assert "signature=[redacted]" in text
    assert "\n" not in text
    assert len(safe_message(ccxt.ExchangeError("x" * 2000))) == 500
