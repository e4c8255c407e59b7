"""A failure's kind comes from its error class and message, never from an order id."""

from __future__ import annotations

import pytest

from router.engine.waves import failure_kind
from router.venues.errors import RateLimited, VenueUnavailable
from router.venues.model import Outcome, PlaceResult


def _refused(client_order_id: str, error_class: str, message: str) -> PlaceResult:
    return PlaceResult(
        outcome=Outcome.UNKNOWN,
        client_order_id=client_order_id,
        error_class=error_class,
        error_message=message,
    )


@pytest.mark.parametrize(
    "client_id", ["e7d3bfc0418f4689-c1-0", "a429b503c0e1d2f3-c2-1", "0000000000000418-n4-2"]
)
def test_an_order_id_holding_status_digits_is_not_a_status(client_id: str) -> None:
    result = _refused(client_id, "BadVenueData", f"{client_id}: the answer is not JSON")
    assert failure_kind(result) == "error"


@pytest.mark.parametrize(
    ("error_class", "message", "kind"),
    [
        ("ExchangeNotAvailable", "binance 503 Service Unavailable", "outage"),
        ("OnMaintenance", "system maintenance", "outage"),
        ("DDoSProtection", "binance 429 Too Many Requests", "rate_limit"),
        ("ExchangeError", "HTTP 418: IP banned", "rate_limit"),
        ("RequestTimeout", "request timed out after 10000 ms", "timeout"),
        ("InsufficientFunds", "Account has insufficient balance", "error"),
    ],
)
def test_kinds_from_class_and_message(error_class: str, message: str, kind: str) -> None:
    assert failure_kind(_refused("c-1", error_class, message)) == kind


def test_exceptions_are_judged_by_type_and_text() -> None:
    assert failure_kind(RateLimited("alpha: fetch_order_book failed: 429")) == "rate_limit"
    assert failure_kind(VenueUnavailable("alpha: fetch_balance failed: 503")) == "outage"
    assert failure_kind(ValueError("order e7d3bfc0418f4689-c1-0 vanished")) == "error"
