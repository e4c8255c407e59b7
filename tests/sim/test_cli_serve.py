"""``router sim serve`` end to end: a plain ccxt client wired as documented closes 0.5 BTC."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.harness.connect import connect_binance
from router.sim.endpoint import VenueEndpoint
from router.sim.scenario import load_scenario


def _start(tls_dir: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "sim", "serve", "--tls-dir", str(tls_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.monotonic() - started
    return process, json.loads(line), elapsed


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


async def _sell_half_a_btc(endpoint: VenueEndpoint, taker_fee: Decimal) -> None:
    async with connect_binance(endpoint) as client:
        await client.load_markets()
        before = await client.fetch_balance()
        book = await client.fetch_order_book("BTC/USDT", 5)
        limit = client.price_to_precision("BTC/USDT", book["bids"][0][0] * 0.995)
        order = await client.create_order(
            "BTC/USDT",
            "limit",
            "sell",
            0.5,
            float(limit),
            {"timeInForce": "IOC", "clientOrderId": "demo-close-1"},
        )
        fetched = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "demo-close-1"})
        trades = await client.fetch_my_trades("BTC/USDT", params={"orderId": order["id"]})
        after = await client.fetch_balance()
    filled = _d(fetched["filled"])
    assert fetched["id"] == order["id"]
    assert filled == Decimal("0.5")
    assert sum(_d(t["amount"]) for t in trades) == filled
    assert _d(before["BTC"]["total"]) - _d(after["BTC"]["total"]) == filled
    for trade in trades:
        cost = _d(trade["price"]) * _d(trade["amount"])
        assert _d(trade["fee"]["cost"]) == cost * taker_fee
        assert trade["fee"]["currency"] == "USDT"


def test_serve_prints_its_venues_and_serves_a_close(tmp_path: Path) -> None:
    process, announced, elapsed = _start(tmp_path / "tls", "--scenario", "calm", "--seed", "4")
    try:
        assert elapsed < 5
        assert Path(announced["ca_cert"]).is_file()
        scenario = load_scenario("calm")
        assert [v["name"] for v in announced["venues"]] == [v.name for v in scenario.venues]
        first = announced["venues"][0]
        assert set(first) >= {"name", "port", "api_key", "secret"}
        endpoint = VenueEndpoint(
            name=first["name"],
            port=first["port"],
            ca_cert=Path(announced["ca_cert"]),
            api_key=first["api_key"],
            secret=first["secret"],
        )
        asyncio.run(_sell_half_a_btc(endpoint, scenario.venues[0].spot.taker_fee))
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr


def test_serve_rejects_an_unknown_scenario(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "sim",
            "serve",
            "--scenario",
            "no-such-crisis",
            "--tls-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown scenario 'no-such-crisis'" in result.stderr
    assert "calm" in result.stderr
