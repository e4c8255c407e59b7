"""The service's keeper: closes nobody holds are taken over, its own are left alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from router.engine.request import CloseRequest
from router.journal.records import NewClose
from router.journal.repository import Journal, utc_now
from tests.service.conftest import Api, close_body


async def test_the_keeper_finishes_a_close_whose_owner_stopped_renewing(api: Api) -> None:
    request = CloseRequest.model_validate(close_body(idempotency_key="left-by-a-dead-router"))
    journal = api.world.journal
    dead = Journal(
        journal.engine, owner="dead-router", clock=lambda: utc_now() - timedelta(minutes=5)
    )
    try:
        close, created = await dead.create_close(
            NewClose(
                idempotency_key=request.idempotency_key,
                symbol=request.symbol,
                side=request.side,
                quantity=Decimal(2),
                request=request.model_dump(mode="json"),
            )
        )
    finally:
        await dead._writer.close()
    assert created
    assert (await journal.claimable()) == [close.id]

    api.state.keep(0.05)
    body = await api.finished(close.id)
    assert body["outcome"] == "FLAT"
    assert Decimal(body["filled"]) == Decimal(2)
    taken = await journal.get_close(close.id)
    assert taken is not None
    assert taken.owner is None


async def test_the_keeper_leaves_a_close_of_this_router_to_its_run(api: Api) -> None:
    api.state.keep(0.01)
    response = await api.post("/v1/closes", json=close_body(quantity="3"))
    assert response.status == 202
    close_id = (await response.json())["close_id"]
    body = await api.finished(close_id)
    assert body["outcome"] == "FLAT"
    await asyncio.sleep(0.1)
    assert sum(Decimal(f["quantity"]) for f in body["fills"]) == Decimal(3)
    assert len({a["client_order_id"] for a in body["attempts"]}) == len(body["attempts"])
