"""What the engine needs from a venue and from a venue's health (the adapter provides both)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, Protocol

from router.venues.model import BookView, FailureKind, MarketInfo, PlaceResult
from router.venues.reports import VenueOrder, VenueTrade


class VenuePort(Protocol):
    name: str

    @property
    def loaded(self) -> bool:
        """Whether the venue's markets are loaded (a venue still loading lists nothing)."""
        ...

    @property
    def load_error(self) -> str | None:
        """Why the markets could not be loaded yet (``None`` once loaded)."""
        ...

    def market(self, symbol: str) -> MarketInfo: ...

    async def order_book(self, symbol: str, depth: int = 100) -> BookView: ...

    async def free_balance(self, asset: str) -> Decimal: ...

    async def position(self, symbol: str) -> Decimal: ...

    async def futures_available_margin(self) -> Decimal: ...

    async def place_order(
        self,
        symbol: str,
        side: Literal["buy", "sell"],
        quantity: Decimal,
        *,
        client_order_id: str,
        limit_price: Decimal | None,
        reduce_only: bool = False,
    ) -> PlaceResult: ...

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None: ...

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]: ...


class CircuitChangePort(Protocol):
    @property
    def old(self) -> str: ...

    @property
    def new(self) -> str: ...

    @property
    def reason(self) -> str: ...


class HealthPort(Protocol):
    last_error: str | None

    def allow(self) -> bool: ...

    def changes(self) -> Sequence[CircuitChangePort]: ...

    def record_success(self) -> None: ...

    def record_failure(self, kind: FailureKind, detail: str | None = None) -> None: ...


def lists(venue: VenuePort, symbol: str) -> bool:
    """Whether the venue has a market for ``symbol``."""
    try:
        venue.market(symbol)
    except KeyError:
        return False
    return True
