"""A small registry of the simulated REST endpoints and what each needs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from router.sim import errors

if TYPE_CHECKING:
    from router.sim.orders import MarketKind
    from router.sim.venue import SimVenue


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it: the venue, its parameters and injected faults."""

    venue: SimVenue
    params: dict[str, str]
    fill_ratio: Decimal | None = None
    force_insufficient: bool = False

    def symbol(self) -> str:
        """The mandatory ``symbol`` parameter."""
        symbol = self.params.get("symbol")
        if not symbol:
            raise errors.mandatory("symbol")
        return symbol

    def int_param(self, name: str) -> int | None:
        """An optional whole-number parameter (-1100 when malformed)."""
        raw = self.params.get(name)
        if raw is None or raw == "":
            return None
        if not raw.isdigit():
            raise errors.illegal_chars(name, "^[0-9]{1,20}$")
        return int(raw)


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Route:
    handler: Handler
    signed: bool
    places_order: bool


class Routes:
    def __init__(self) -> None:
        self.table: dict[tuple[str, str], Route] = {}

    def _register(
        self, method: str, path: str, signed: bool, places_order: bool
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.table[(method, path)] = Route(handler, signed, places_order)
            return handler

        return decorate

    def get(self, path: str, *, signed: bool = False) -> Callable[[Handler], Handler]:
        return self._register("GET", path, signed, False)

    def post(
        self, path: str, *, signed: bool = False, places_order: bool = False
    ) -> Callable[[Handler], Handler]:
        return self._register("POST", path, signed, places_order)

    def delete(self, path: str, *, signed: bool = False) -> Callable[[Handler], Handler]:
        return self._register("DELETE", path, signed, False)


def check_symbols(call: Call, kind: MarketKind) -> None:
    """``symbol`` / ``symbols`` filters of exchangeInfo: an unknown symbol is -1121."""
    wanted: list[str] = []
    if call.params.get("symbol"):
        wanted.append(call.params["symbol"])
    if call.params.get("symbols"):
        try:
            listed = json.loads(call.params["symbols"])
        except ValueError as exc:
            raise errors.illegal_chars("symbols", '^\\[".*"\\]$') from exc
        if not isinstance(listed, list):
            raise errors.illegal_chars("symbols", '^\\[".*"\\]$')
        wanted.extend(str(item) for item in listed)
    for symbol in wanted:
        call.venue.market(kind, symbol)
