"""RouterClient against the API served on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from router.client import RouterApiError, RouterClient
from router.core.liquidity import Baseline
from tests.service.conftest import READ, TRADE, Api


@pytest.fixture
async def router(api: Api) -> AsyncIterator[RouterClient]:
    async with RouterClient(str(api.client.make_url("/")), TRADE) as client:
        yield client


async def test_close_and_status(api: Api, router: RouterClient) -> None:
    accepted = await router.close(
        symbol="BTC", side="sell", quantity=Decimal("1.5"), urgency=0.9, idempotency_key="c-1"
    )
    await api.finished(accepted["close_id"])
    status = await router.status(accepted["close_id"])
    assert status["outcome"] == "FLAT"
    assert Decimal(status["filled"]) == Decimal("1.5")
    again = await router.close(
        symbol="BTC", side="sell", quantity="1.5", urgency="0.9", idempotency_key="c-1"
    )
    assert again["close_id"] == accepted["close_id"]
    assert again["existing"] is True
    with pytest.raises(RouterApiError) as conflict:
        await router.close(symbol="BTC", side="sell", quantity=2, idempotency_key="c-1")
    assert conflict.value.status == 409
    assert conflict.value.body["close_id"] == accepted["close_id"]
    assert [v["name"] for v in await router.venues()] == ["alpha", "bravo", "charlie"]
    assert await router.hedges() == []


async def test_errors_are_raised_with_the_body(api: Api, router: RouterClient) -> None:
    with pytest.raises(RouterApiError) as caught:
        await router.close(symbol="BTC", side="sell", quantity="-1", idempotency_key="bad")
    assert caught.value.status == 422
    assert caught.value.body["fields"][0]["field"] == "quantity"
    async with RouterClient(str(api.client.make_url("/")), READ) as reader:
        with pytest.raises(RouterApiError) as refused:
            await reader.close(symbol="BTC", side="sell", quantity="1", idempotency_key="r")
    assert refused.value.status == 403


async def test_world_signature_votes(api: Api, router: RouterClient) -> None:
    assert await router.world_signature_votes({"symbol": "BTC", "has_position": True}) == []
    assert await router.world_signature_votes({"has_position": False}) == []
    for name in api.world.adapters:
        api.state.baselines[(name, "BTC/USDT", "sell")] = Baseline(samples=(Decimal(10**6),) * 5)
    [vote] = await router.world_signature_votes({"symbol": "BTC", "has_position": True})
    assert vote["action"] == "close"
    assert vote["confidence"] == 0.95
    assert vote["voter_category"] == "world_signature"
    assert vote["reason"].startswith("liquidity exhausted")
    reading = await router.liquidity("BTC", danger="0.5")
    assert reading["escape_now"] is True
