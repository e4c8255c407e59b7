"""A venue's failure has one kind, whichever path reports it to the circuit breaker.

The service's reads and the venue loader hand the adapter's exception to the breaker;
the engine hands it the adapter's answer to an order. A :class:`VenueUnavailable` is an
outage on both paths: the circuit opens at the first one, not after five failures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

from router.core.book import Book, Side
from router.engine.waves import VenueState, WaveContext
from router.journal.records import NewClose
from router.journal.repository import Journal
from router.venues import answers
from router.venues.errors import VenueUnavailable
from router.venues.health import CircuitBreaker, CircuitState
from router.venues.loader import report_failure
from router.venues.model import BookView, MarketInfo, PlaceResult

D = Decimal
SYMBOL = "BTC/USDT"
CLOSE_ID = "cl_0123456789abcdef01234567"
NOW = datetime(2020, 3, 12, 10, 0, tzinfo=UTC)
DOWN = "alpha: the venue is down"


def _market() -> MarketInfo:
    return MarketInfo(
        venue="alpha",
        symbol=SYMBOL,
        market_id="BTCUSDT",
        kind="spot",
        base="BTC",
        quote="USDT",
        lot_step=D("0.001"),
        min_qty=D("0.001"),
        max_qty=None,
        market_max_qty=None,
        min_notional=D(5),
        tick=D("0.01"),
        percent_down=None,
        percent_up=None,
        taker_fee=D("0.001"),
        maker_fee=D("0.001"),
    )


class _DownVenue:
    """A venue whose every order meets a :class:`VenueUnavailable`: either the adapter's
    answer for it (``answered``) or the exception itself (``raised``)."""

    name = "alpha"
    loaded = True
    load_error = None

    def __init__(self, how: Literal["answered", "raised"]) -> None:
        self.how = how

    def market(self, symbol: str) -> MarketInfo:
        return _market()

    async def place_order(
        self,
        symbol: str,
        side: Literal["buy", "sell"],
        quantity: Decimal,
        *,
        client_order_id: str,
        limit_price: Decimal | None,
        reduce_only: bool = False,
    ) -> PlaceResult:
        error = VenueUnavailable(DOWN)
        if self.how == "raised":
            raise error
        return answers.failed(error, client_order_id, DOWN)

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> None:
        return None

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[object]:
        return []


class _Unloaded:
    """What the loader needs of an adapter that failed to load."""

    name = "alpha"
    loaded = False
    load_error: str | None = DOWN

    async def load(self) -> None:
        raise VenueUnavailable(DOWN)


def _breaker() -> CircuitBreaker:
    return CircuitBreaker(lambda: D(0), venue="alpha")


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    journal = await Journal.open(f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}")
    await journal.create_close(NewClose("key-1", SYMBOL, "sell", D(1), {}, None, CLOSE_ID))
    try:
        yield journal
    finally:
        await journal.close()


def test_the_loader_opens_the_circuit_at_the_first_venue_unavailable() -> None:
    breaker = _breaker()
    report_failure(breaker, _Unloaded(), VenueUnavailable(DOWN))
    assert breaker.state is CircuitState.OPEN


@pytest.mark.parametrize("how", ["answered", "raised"])
async def test_an_order_meeting_venue_unavailable_opens_the_circuit_at_once(
    journal: Journal, how: Literal["answered", "raised"]
) -> None:
    breaker = _breaker()
    book = Book(bids=((D(30000), D(5)),), asks=((D(30001), D(5)),))
    state = VenueState("alpha", _market(), BookView("alpha", SYMBOL, book, NOW, "rest"), D(5))
    wave = WaveContext(
        journal=journal,
        venues={"alpha": _DownVenue(how)},
        health={"alpha": breaker},
        close_id=CLOSE_ID,
        side=Side.SELL,
        symbol=SYMBOL,
        lookup_wait_s=0,
    )
    result = await wave.run(1, 0, [state], D(1), None)
    assert result.children == 1
    assert breaker.state is CircuitState.OPEN
    assert breaker.last_error == "outage"
