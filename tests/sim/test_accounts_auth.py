"""Spot balances, the USD-M position arithmetic and request signing."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from router.sim import errors
from router.sim.accounts import FuturesAccount, SpotAccount
from router.sim.auth import Credentials, parse_params, verify_signed

D = Decimal


def test_spot_lock_unlock_and_insufficient_balance() -> None:
    account = SpotAccount.with_balances({"BTC": D(1)})
    account.lock("BTC", D("0.6"))
    assert (account.get("BTC").free, account.get("BTC").locked) == (D("0.4"), D("0.6"))
    with pytest.raises(errors.ApiError) as rejected:
        account.lock("BTC", D("0.5"))
    assert rejected.value.code == -2010
    account.unlock("BTC", D("0.6"))
    assert account.get("BTC").free == D(1)


def test_futures_short_then_cover_realizes_pnl_and_fees() -> None:
    account = FuturesAccount(wallet=D(1000), leverage=10)
    assert account.apply_fill("SELL", D(1), D(100), fee=D("0.05")) == 0
    assert account.position == D(-1)
    assert account.entry_price == D(100)
    assert account.unrealized(D(90)) == D(10)
    realized = account.apply_fill("BUY", D(1), D(90), fee=D("0.045"))
    assert realized == D(10)
    assert account.position == 0
    assert account.wallet == D(1000) + D(10) - D("0.05") - D("0.045")


def test_futures_flip_sets_new_entry() -> None:
    account = FuturesAccount(wallet=D(1000), leverage=5)
    account.apply_fill("BUY", D(1), D(100), fee=D(0))
    account.apply_fill("SELL", D(3), D(110), fee=D(0))
    assert account.position == D(-2)
    assert account.entry_price == D(110)
    assert account.opening_part("BUY", D(5)) == D(3)
    assert account.opening_part("SELL", D(1)) == D(1)


CREDS = Credentials("key123", "s3cret")
NOW = 1_700_000_000_000


def _sign(payload: str) -> str:
    return hmac.new(b"s3cret", payload.encode(), hashlib.sha256).hexdigest()


def _verify(query: str, body: str = "", key: str | None = "key123", now: int = NOW) -> None:
    verify_signed(
        api_key=key,
        query=query,
        body=body,
        params=parse_params(query, body),
        credentials=CREDS,
        server_ms=lambda: now,
    )


def test_signature_over_query_and_body() -> None:
    query = f"symbol=BTCUSDT&timestamp={NOW}"
    _verify(f"{query}&signature={_sign(query)}")
    body = "side=SELL&quantity=1"
    _verify(query, f"{body}&signature={_sign(query + body)}")


@pytest.mark.parametrize(
    ("query", "key", "now", "code"),
    [
        (f"timestamp={NOW}&signature=00", "key123", NOW, -1022),
        (f"timestamp={NOW}", "key123", NOW, -1102),
        (f"timestamp={NOW}&signature=00", None, NOW, -2014),
        (f"timestamp={NOW}&signature=00", "other", NOW, -2015),
        ("signature=00", "key123", NOW, -1102),
        (f"timestamp={NOW}&recvWindow=70000&signature=00", "key123", NOW, -1131),
    ],
)
def test_rejections(query: str, key: str | None, now: int, code: int) -> None:
    with pytest.raises(errors.ApiError) as rejected:
        _verify(query, key=key, now=now)
    assert rejected.value.code == code


@pytest.mark.parametrize("skew", [6000, -2000])
def test_timestamp_window(skew: int) -> None:
    query = f"timestamp={NOW}"
    with pytest.raises(errors.ApiError) as rejected:
        _verify(f"{query}&signature={_sign(query)}", now=NOW + skew)
    assert rejected.value.code == -1021


def test_query_string_wins_over_body_and_duplicates_are_rejected() -> None:
    assert parse_params("a=1&b=2", "a=3&c=4") == {"a": "1", "b": "2", "c": "4"}
    with pytest.raises(errors.ApiError) as rejected:
        parse_params("a=1&a=2", "")
    assert rejected.value.code == -1101
