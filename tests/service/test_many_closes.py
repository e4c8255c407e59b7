"""Many closes on one symbol at once through the API: each finishes, none oversells."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.service.conftest import Api, close_body


async def test_twenty_closes_on_one_symbol_at_once_all_finish(api: Api) -> None:
    bodies = [
        close_body(
            quantity="0.3",
            side="sell" if i % 4 else "buy",
            urgency=str(Decimal(i % 10) / 10),
            idempotency_key=f"many-{i}",
        )
        for i in range(20)
    ]
    responses = await asyncio.gather(*(api.post("/v1/closes", json=b) for b in bodies))
    assert [r.status for r in responses] == [202] * 20
    ids = [(await r.json())["close_id"] for r in responses]
    finished = await asyncio.gather(*(api.finished(i, timeout_s=90) for i in ids))
    assert [body["outcome"] for body in finished] == ["FLAT"] * 20
    assert all(Decimal(body["filled"]) == Decimal("0.3") for body in finished)
