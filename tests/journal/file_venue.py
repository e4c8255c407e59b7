"""A venue whose order ledger is a JSON-lines file, shared by test processes.

A worker process "sends" an order by appending it; a recovering process reads the
file as the venue's truth. Appends are single ``write`` calls of one line, so a
process killed mid-way leaves whole lines only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from router.core.orders import OrderState
from router.venues.reports import VenueOrder, VenueTrade


class FileVenue:
    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger

    def place(self, client_order_id: str, quantity: Decimal, fills: Sequence[Decimal]) -> None:
        """The venue accepts an order and matches it (IOC): FILLED or EXPIRED."""
        filled = sum(fills, Decimal(0))
        record = {
            "client_order_id": client_order_id,
            "order_id": f"ex-{client_order_id}",
            "state": (OrderState.FILLED if filled == quantity else OrderState.EXPIRED).value,
            "fills": [str(q) for q in fills],
        }
        line = (json.dumps(record) + "\n").encode()
        descriptor = os.open(self.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)

    def records(self) -> list[dict[str, object]]:
        if not self.ledger.exists():
            return []
        return [json.loads(line) for line in self.ledger.read_text().splitlines() if line]

    async def order_by_client_id(
        self, venue: str, market: str, symbol: str, client_order_id: str
    ) -> VenueOrder | None:
        for record in self.records():
            if record["client_order_id"] == client_order_id:
                fills = [Decimal(str(q)) for q in record["fills"]]  # type: ignore[attr-defined]
                return VenueOrder(
                    client_order_id,
                    str(record["order_id"]),
                    OrderState(str(record["state"])),
                    sum(fills, Decimal(0)),
                )
        return None

    async def trades_for_order(
        self, venue: str, market: str, symbol: str, exchange_order_id: str
    ) -> Sequence[VenueTrade]:
        for record in self.records():
            if record["order_id"] == exchange_order_id:
                return [
                    VenueTrade(
                        f"{exchange_order_id}-{index}",
                        exchange_order_id,
                        "sell",
                        Decimal(str(qty)),
                        Decimal("20000"),
                        Decimal("0"),
                        "USDT",
                        datetime(2022, 11, 8, 14, 0, tzinfo=UTC),
                    )
                    for index, qty in enumerate(record["fills"])  # type: ignore[arg-type]
                ]
        return []
