"""Liquidity, venues, hedges, readiness and cancelling a running close."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from router.core.liquidity import Baseline
from router.sim.scenario import Scenario
from tests.engine.test_close import EXHAUSTION
from tests.service.conftest import Api, close_body


async def test_liquidity_reads_every_venue_and_votes(api: Api) -> None:
    response = await api.get("/v1/liquidity/BTC?danger=0.5&volatility=0.2&has_position=true")
    assert response.status == 200
    body = await response.json()
    assert {v["venue"] for v in body["venues"]} == {"alpha", "bravo", "charlie"}
    for venue in body["venues"]:
        assert Decimal(venue["depth"]) > 0
        assert Decimal(venue["score"]) == 1
        assert isinstance(venue["spread_bps"], str)
    assert Decimal(body["consolidated_score"]) == 1
    assert Decimal(body["escape_window_s"]) == Decimal("0.5") * Decimal("0.8") * 1800
    assert body["escape_now"] is False
    assert body["votes"] == []
    again = await (await api.get("/v1/liquidity/BTC")).json()
    assert all(v["baseline"] is not None for v in again["venues"])


async def test_liquidity_votes_to_close_when_books_thin(api: Api) -> None:
    """Depth far below each venue's normal depth: the seed's vote to close now."""
    for name in api.world.adapters:
        api.state.baselines[(name, "BTC/USDT", "sell")] = Baseline(samples=(Decimal(10**6),) * 5)
    body = await (await api.get("/v1/liquidity/BTC?has_position=true")).json()
    assert Decimal(body["consolidated_score"]) < Decimal("0.3")
    assert body["escape_now"] is True
    [vote] = body["votes"]
    assert vote["action"] == "close"
    assert vote["confidence"] == 0.95
    assert vote["voter_category"] == "world_signature"
    assert "liquidity exhausted" in vote["reason"]
    without = await (await api.get("/v1/liquidity/BTC")).json()
    assert without["votes"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("danger=2", "danger"),
        ("volatility=nan", "volatility"),
        ("has_position=maybe", "has_position"),
        ("side=long", "side"),
        ("quote=USDT:USDT", "quote"),
        ("quote=USDT%2FBTC", "quote"),
    ],
)
async def test_liquidity_rejects_bad_parameters(api: Api, query: str, field: str) -> None:
    response = await api.get(f"/v1/liquidity/BTC?{query}")
    assert response.status == 422
    assert (await response.json())["fields"][0]["field"] == field


async def test_liquidity_of_unknown_symbol_is_404(api: Api) -> None:
    assert (await api.get("/v1/liquidity/ETH")).status == 404


async def test_venues_and_readiness(api: Api) -> None:
    body = await (await api.get("/v1/venues")).json()
    assert [v["name"] for v in body["venues"]] == ["alpha", "bravo", "charlie"]
    assert all(v["circuit"] == "closed" and v["last_error"] is None for v in body["venues"])
    ready = await api.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"journal": True, "venues": True}


@pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])
async def test_hedges_listed_and_unwound(api: Api, scenario: Scenario) -> None:
    body = close_body(quantity="12", unrealized_pnl="-0.12", deadline_s="120")
    accepted = await (await api.post("/v1/closes", json=body)).json()
    result = await api.finished(accepted["close_id"])
    assert result["outcome"] == "HEDGED"
    hedges = (await (await api.get("/v1/hedges?open=true")).json())["hedges"]
    assert hedges
    assert sum(Decimal(h["quantity"]) for h in hedges) == Decimal(result["hedged"])
    covered = sum(Decimal(q) for h in hedges for q in h["covers"].values())
    assert covered == Decimal(result["hedged"])
    refused = await api.post(f"/v1/hedges/{hedges[0]['id']}/unwind", json={"with_spot": "yes"})
    assert refused.status == 422
    assert (await refused.json())["fields"][0]["field"] == "with_spot"
    api.world.clock.advance(Decimal(700))
    api.world.cluster.step()
    spot = close_body(quantity=result["hedged"], idempotency_key="spot-after-hedge")
    await api.finished((await (await api.post("/v1/closes", json=spot)).json())["close_id"])
    for hedge in hedges:
        response = await api.post(f"/v1/hedges/{hedge['id']}/unwind")
        assert response.status == 200
        assert Decimal((await response.json())["unwound"]) == Decimal(hedge["quantity"])
    assert (await (await api.get("/v1/hedges?open=true")).json())["hedges"] == []
    assert (await api.post("/v1/hedges/9999/unwind")).status == 404


async def test_cancel_a_running_close(api: Api) -> None:
    gate, paused = asyncio.Event(), asyncio.Event()
    pause = api.world.engine.pacing.sleep

    async def held(seconds: float) -> None:
        paused.set()
        await gate.wait()
        await pause(seconds)

    api.world.engine.pacing.sleep = held
    body = close_body(quantity="6", urgency="0.3", idempotency_key="to-cancel")
    accepted = await (await api.post("/v1/closes", json=body)).json()
    await asyncio.wait_for(paused.wait(), 30)
    assert await api.world.journal.attempts(accepted["close_id"])
    response = await api.post(f"/v1/closes/{accepted['close_id']}/cancel")
    assert response.status == 202
    gate.set()
    result = await api.finished(accepted["close_id"])
    assert result["outcome"] == "STRANDED"
    assert "cancelled by the operator" in result["reason"]
    assert (await api.post("/v1/closes/unknown/cancel")).status == 404
