"""Venues answering nonsense: well-formed JSON that says impossible or incomplete things.

The simulator's ``nonsense`` fault spoils an answer after the endpoint ran (the order
really is on the book). Reads must fail as :class:`BadVenueData` (a ``VenueError``),
placements must come back UNKNOWN (never raise), lookups must fail as ``LookupFailed``;
through the engine the close still ends with a stated outcome and the venue's trouble is
journaled as a venue event.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from router.core.orders import OrderState
from router.journal.models import VenueEvent
from router.sim.faults import nonsense
from router.sim.scenario import NonsenseVariant
from router.sim.venue import SimVenue
from router.venues.adapter import VenueAdapter
from router.venues.errors import BadVenueData, VenueError
from router.venues.model import Outcome
from router.venues.reports import LookupFailed
from tests.engine.conftest import build_world, check_invariants, three_venues
from tests.venues.conftest import PERP, SPOT, fault

BOOK_VARIANTS: list[NonsenseVariant] = [
    "crossed_book",
    "negative_price",
    "string_numbers",
    "null_numbers",
    "missing_fields",
]
ORDER_VARIANTS: list[NonsenseVariant] = [
    "missing_fields",
    "other_client_id",
    "string_numbers",
    "null_numbers",
]


def _order_of(venue: SimVenue, kind: str, client_order_id: str) -> Any:
    return next(
        (o for o in venue.orders[kind].values() if o.client_order_id == client_order_id), None
    )


def test_nonsense_spoils_only_what_it_applies_to() -> None:
    book = {"lastUpdateId": 1, "bids": [["99", "1"]], "asks": [["101", "2"]]}
    assert nonsense(book, "crossed_book")["bids"] == [["101", "2"]]
    assert nonsense(book, "negative_price")["asks"] == [["-101", "2"]]
    assert "bids" not in nonsense(book, "missing_fields")
    assert book["bids"] == [["99", "1"]], "the answer itself is left alone"
    order = {"orderId": 7, "clientOrderId": "c-1", "status": "FILLED", "executedQty": "1"}
    assert nonsense(order, "other_client_id")["clientOrderId"] != "c-1"
    assert nonsense(order, "missing_fields") == {}
    assert nonsense(order, "null_numbers")["executedQty"] is None
    assert nonsense([1, 2], "missing_fields") == [1, 2]


@pytest.mark.parametrize("variant", BOOK_VARIANTS)
@pytest.mark.parametrize(
    ("symbol", "endpoint"), [(SPOT, "GET /api/v3/depth"), (PERP, "GET /fapi/v1/depth")]
)
async def test_nonsense_book_is_bad_venue_data(
    alpha: VenueAdapter, venue: SimVenue, variant: NonsenseVariant, symbol: str, endpoint: str
) -> None:
    venue.faults.add(fault(kind="nonsense", variant=variant, endpoint=endpoint, count=1))
    with pytest.raises(BadVenueData) as raised:
        await alpha.order_book(symbol)
    assert "alpha" in str(raised.value)
    assert venue.faults.injected == {"nonsense": 1}
    book = (await alpha.order_book(symbol)).book
    assert book.bids
    assert book.asks
    assert book.bids[0][0] < book.asks[0][0]


@pytest.mark.parametrize("variant", ORDER_VARIANTS)
@pytest.mark.parametrize(
    ("symbol", "endpoint", "kind"),
    [(SPOT, "POST /api/v3/order", "spot"), (PERP, "POST /fapi/v1/order", "linear")],
)
async def test_nonsense_order_answer_is_unknown_then_found(
    alpha: VenueAdapter,
    venue: SimVenue,
    variant: NonsenseVariant,
    symbol: str,
    endpoint: str,
    kind: str,
) -> None:
    venue.faults.add(fault(kind="nonsense", variant=variant, endpoint=endpoint, count=1))
    result = await alpha.place_order(
        symbol, "sell", Decimal("0.2"), client_order_id="odd-1", limit_price=None
    )
    assert (result.outcome, result.state) == (Outcome.UNKNOWN, OrderState.UNKNOWN)
    assert result.error_class == BadVenueData.__name__
    assert result.error_message
    assert result.filled == 0
    order = _order_of(venue, kind, "odd-1")
    assert order is not None
    assert order.status == "FILLED"
    found = await alpha.order_by_client_id("alpha", kind, symbol, "odd-1")
    assert found is not None
    assert (found.exchange_order_id, found.state, found.filled_qty) == (
        str(order.id),
        OrderState.FILLED,
        Decimal("0.2"),
    )


@pytest.mark.parametrize("variant", ["missing_fields", "other_client_id", "null_numbers"])
async def test_nonsense_lookup_is_lookup_failed(
    alpha: VenueAdapter, venue: SimVenue, variant: NonsenseVariant
) -> None:
    placed = await alpha.place_order(
        SPOT, "sell", Decimal("0.1"), client_order_id="seen-1", limit_price=None
    )
    assert placed.outcome is Outcome.ACKED
    venue.faults.add(fault(kind="nonsense", variant=variant, endpoint="GET /api/v3/order"))
    with pytest.raises(LookupFailed) as raised:
        await alpha.order_by_client_id("alpha", "spot", SPOT, "seen-1")
    assert isinstance(raised.value.__cause__, VenueError)


async def test_an_expired_order_without_its_executed_quantity_is_not_read_as_unfilled(
    alpha: VenueAdapter, venue: SimVenue
) -> None:
    """Storm seed 74: a partly filled IOC order (EXPIRED) looked up with its quantities
    nulled read as EXPIRED with nothing filled (ccxt makes a null ``executedQty`` 0),
    so the close sold the same quantity again and hedged past the position."""
    venue.faults.add(
        fault(kind="partial_fill", endpoint="POST /api/v3/order", fill_ratio="0.5", count=1)
    )
    placed = await alpha.place_order(
        SPOT, "sell", Decimal("0.2"), client_order_id="half-1", limit_price=None
    )
    assert (placed.state, placed.filled) == (OrderState.EXPIRED, Decimal("0.1"))
    venue.faults.add(fault(kind="nonsense", variant="null_numbers", endpoint="GET /api/v3/order"))
    with pytest.raises(LookupFailed, match="without a usable executed quantity"):
        await alpha.order_by_client_id("alpha", "spot", SPOT, "half-1")


async def _venue_events(world: Any) -> list[tuple[str, str, str]]:
    async with world.journal.engine.connect() as conn:
        rows = await conn.execute(select(VenueEvent.venue, VenueEvent.kind, VenueEvent.detail))
        return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.parametrize(
    ("variant", "endpoint", "reads"),
    [
        ("crossed_book", "GET /api/v3/depth", True),
        ("negative_price", "GET /api/v3/depth", True),
        ("string_numbers", "GET /api/v3/depth", True),
        ("null_numbers", "GET /api/v3/depth", True),
        ("missing_fields", "GET /api/v3/depth", True),
        ("missing_fields", "POST /api/v3/order", False),
        ("other_client_id", "POST /api/v3/order", False),
        ("string_numbers", "POST /api/v3/order", False),
    ],
)
async def test_close_survives_nonsense(
    tmp_path: Path, variant: NonsenseVariant, endpoint: str, reads: bool
) -> None:
    # A bad book is a failed read; a bad order answer is a health failure of the venue
    # (its kind comes with the adapter's answer).
    expected = {"read_failed"} if reads else {"error", "outage", "rate_limit", "timeout"}
    stack: list[Callable[[], Any]] = []
    try:
        world = await build_world(three_venues(), tmp_path, stack)
        for name in world.adapters:
            world.venue(name).faults.add(
                fault(kind="nonsense", variant=variant, endpoint=endpoint, count=1)
            )
        result = await world.engine.close(world.request(quantity="3"))
        assert result.outcome in ("FLAT", "HEDGED", "STRANDED")
        assert result.filled + result.hedged + result.residual == Decimal(3)
        hit = {n for n in world.adapters if world.venue(n).faults.injected.get("nonsense")}
        assert hit, "no nonsense was served"
        events = [e for e in await _venue_events(world) if e[0] in hit]
        assert {kind for _, kind, detail in events if "BadVenueData" in detail} & expected, events
        await check_invariants(world)
    finally:
        for undo in reversed(stack):
            await undo()
