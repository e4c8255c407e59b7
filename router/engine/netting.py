"""Netting: opposite closes on one symbol offset each other before anything is sent.

A close selling 5 BTC and another buying 3 BTC at the same moment need only 2 BTC
of market orders: the 3 they have in common cross internally at the mid, paying no
spread and no fee. Each running close keeps an entry here with the quantity it still
wants; at the start of each of its waves (under the symbol's lock, so no wave of the
other close is half-done) it is matched against the opposite side's entries, and both
learn how much was netted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass
class NettingEntry:
    close_id: str
    symbol: str
    side: str
    wanted: Decimal
    netted: Decimal = ZERO
    """Netted for this close and not yet taken by its runner."""
    counterparties: list[tuple[str, Decimal]] = field(default_factory=list)


class NettingDesk:
    def __init__(self) -> None:
        self._open: dict[str, list[NettingEntry]] = {}

    def join(self, close_id: str, symbol: str, side: str, wanted: Decimal) -> NettingEntry:
        entry = NettingEntry(close_id, symbol, side, wanted)
        self._open.setdefault(symbol, []).append(entry)
        return entry

    def leave(self, entry: NettingEntry) -> None:
        entries = self._open.get(entry.symbol, [])
        if entry in entries:
            entries.remove(entry)

    def offset(self, entry: NettingEntry, wanted: Decimal) -> Decimal:
        """Update what ``entry`` still wants, net it against the other side; return the
        quantity netted for it (since its last call)."""
        entry.wanted = wanted - entry.netted
        for other in self._open.get(entry.symbol, []):
            if other is entry or other.side == entry.side or entry.wanted <= 0:
                continue
            common = min(entry.wanted, other.wanted)
            if common <= 0:
                continue
            entry.wanted -= common
            other.wanted -= common
            entry.netted += common
            other.netted += common
            entry.counterparties.append((other.close_id, common))
            other.counterparties.append((entry.close_id, common))
        taken, entry.netted = entry.netted, ZERO
        return taken
