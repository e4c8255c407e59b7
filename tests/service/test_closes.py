"""Closes through the API: accepted, run to an outcome, idempotent, observable."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.service.conftest import Api, close_body


async def test_close_runs_to_flat(api: Api) -> None:
    response = await api.post("/v1/closes", json=close_body())
    assert response.status == 202
    accepted = await response.json()
    assert accepted["close_id"]
    body = await api.finished(accepted["close_id"])
    assert body["outcome"] == "FLAT"
    assert Decimal(body["filled"]) == Decimal(2)
    assert body["attempts"]
    assert body["fills"]
    assert all(isinstance(f["quantity"], str) for f in body["fills"])
    assert sum(Decimal(f["quantity"]) for f in body["fills"]) == Decimal(2)


async def test_same_key_returns_same_close_and_sends_nothing_more(api: Api) -> None:
    first = await (await api.post("/v1/closes", json=close_body(idempotency_key="k-1"))).json()
    await api.finished(first["close_id"])
    orders = api.orders_on_venues()
    again = await api.post("/v1/closes", json=close_body(idempotency_key="k-1"))
    assert again.status == 200
    assert (await again.json())["close_id"] == first["close_id"]
    assert api.orders_on_venues() == orders


async def test_concurrent_same_key_is_one_close(api: Api) -> None:
    responses = await asyncio.gather(
        *(api.post("/v1/closes", json=close_body(idempotency_key="k-2")) for _ in range(3))
    )
    ids = {(await r.json())["close_id"] for r in responses}
    assert len(ids) == 1
    await api.finished(ids.pop())


async def test_unknown_close_is_404(api: Api) -> None:
    response = await api.get("/v1/closes/does-not-exist")
    assert response.status == 404
    assert (await response.json())["error"] == "unknown close"


async def test_cancel_finished_close_is_409(api: Api) -> None:
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await api.finished(accepted["close_id"])
    response = await api.post(f"/v1/closes/{accepted['close_id']}/cancel")
    assert response.status == 409


async def test_metrics_move_after_a_close(api: Api) -> None:
    before = await (await api.get("/metrics")).text()
    assert 'router_closes_total{outcome="FLAT"}' not in before
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await api.finished(accepted["close_id"])
    after = await (await api.get("/metrics")).text()
    assert 'router_closes_total{outcome="FLAT"} 1.0' in after
    assert "router_orders_sent_total{" in after
    assert 'router_time_to_flat_seconds_count{outcome="FLAT"} 1.0' in after
    assert 'router_venue_circuit_state{venue="alpha"} 0.0' in after


async def test_a_quantity_beyond_the_holdings_is_refused_with_422_and_sends_nothing(
    api: Api,
) -> None:
    orders = api.orders_on_venues()
    response = await api.post(
        "/v1/closes", json=close_body(quantity="100000", idempotency_key="too-much")
    )
    assert response.status == 422
    body = await response.json()
    assert body["fields"][0]["field"] == "quantity"
    assert "exceeds what the venues hold of BTC" in body["fields"][0]["message"]
    assert api.orders_on_venues() == orders
    again = await api.post("/v1/closes", json=close_body(quantity="1", idempotency_key="too-much"))
    assert again.status == 202
    await api.finished((await again.json())["close_id"])
