"""The API, the audit and the journal agree on a close's figures."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from router.journal.timeline import close_timeline
from router.sim.scenario import Scenario
from tests.engine.test_close import EXHAUSTION
from tests.service.conftest import Api, close_body

D = Decimal


async def test_a_netted_close_reports_the_same_filled_in_the_api_and_the_audit(api: Api) -> None:
    """Sell 5 and buy 3 together: 3 of each cross internally. The internal crossing is
    the close's own fill in ``GET /v1/closes/{id}`` and in ``router audit`` alike."""
    world = api.world
    seller, buyer = await asyncio.gather(
        world.engine.close(world.request(quantity="5")),
        world.engine.close(world.request(side="buy", quantity="3")),
    )
    assert seller.venues["internal"].filled == D(3)
    for result, requested in ((seller, "5"), (buyer, "3")):
        body = await (await api.get(f"/v1/closes/{result.close_id}")).json()
        timeline = await close_timeline(world.journal.engine, result.close_id)
        assert timeline is not None
        assert D(body["filled"]) == timeline.summary.filled_qty == D(requested)
        assert timeline.summary.fees.get("?") is None


@pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])
async def test_a_hedge_states_the_average_price_of_its_fills(api: Api, scenario: Scenario) -> None:
    body = close_body(quantity="12", unrealized_pnl="-0.12", deadline_s="120")
    accepted = await (await api.post("/v1/closes", json=body)).json()
    result = await api.finished(accepted["close_id"])
    assert result["outcome"] == "HEDGED"
    hedges = (await (await api.get("/v1/hedges")).json())["hedges"]
    assert any(D(h["quantity"]) > 0 for h in hedges)
    legs = {a["client_order_id"]: a["venue"] for a in result["attempts"] if a["purpose"] == "hedge"}
    for hedge in hedges:
        # one hedge row per venue of the close: its legs are the hedge orders on that venue
        fills = [f for f in result["fills"] if legs.get(f["client_order_id"]) == hedge["venue"]]
        quantity = sum((D(f["quantity"]) for f in fills), D(0))
        assert quantity == D(hedge["quantity"])
        if quantity == 0:
            assert hedge["average_price"] is None
            continue
        gross = sum((D(f["quantity"]) * D(f["price"]) for f in fills), D(0))
        assert hedge["average_price"] is not None
        assert abs(D(hedge["average_price"]) - gross / quantity) < D("1e-12")
