"""The venue's request budget: bursts go out at once, the per-minute budget still holds."""

from __future__ import annotations

import asyncio

import ccxt.async_support as ccxt_async
import pytest

from router.venues.adapter import RATE_WINDOW_MS, harden


async def test_hardened_client_uses_the_per_minute_budget() -> None:
    client = ccxt_async.binance()
    try:
        harden(client, 5)
        config = client.throttler.config
        assert client.enableRateLimit is True
        assert config["algorithm"] == "rollingWindow"
        assert config["maxWeight"] == RATE_WINDOW_MS / client.rateLimit
    finally:
        await client.close()


async def test_a_burst_is_not_held_back_but_the_budget_is() -> None:
    client = ccxt_async.binance()
    try:
        harden(client, 5)
        budget = client.throttler.config["maxWeight"]
        # An account read (several units) then a book and an order: none waits.
        await asyncio.wait_for(client.throttle(4), timeout=5)
        await asyncio.wait_for(client.throttle(1), timeout=5)
        await asyncio.wait_for(client.throttle(1), timeout=5)
        await asyncio.wait_for(client.throttle(budget - 6), timeout=5)
        # The minute's budget is spent: the next request waits for the window to roll.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.throttle(1), timeout=0.2)
    finally:
        await client.close()
