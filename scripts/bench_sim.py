"""How many signed order requests per second one simulated venue serves over loopback TLS.

Starts ``router sim serve`` in its own process with a one-venue, zero-latency world,
then drives it from this process with keep-alive connections, each sending signed
``POST /api/v3/order`` requests (IOC limit orders that trade, alternating sides so the
balances never run out). Prints one line per round and the median.

    .venv/bin/python scripts/bench_sim.py [--seconds 5] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from router.harness.connect import make_session
from router.sim.auth import sign
from router.sim.endpoint import VenueEndpoint

WORLD = """
name = "bench"
speed = "1"
[[stages]]
at_s = "0"
depth = "50"
spread_bps = "1"
[[venues]]
name = "solo"
futures_wallet = "1000000"
[venues.balances]
BTC = "100000"
USDT = "10000000000"
"""


async def _worker(
    endpoint: VenueEndpoint, stop_at: float, latencies: list[float], worker: int
) -> int:
    sent = 0
    async with make_session(endpoint) as session:
        async with session.get("https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5") as r:
            book = await r.json()
        bid = float(book["bids"][0][0])
        ask = float(book["asks"][0][0])
        headers = {
            "X-MBX-APIKEY": endpoint.api_key,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        while time.monotonic() < stop_at:
            sell = sent % 2 == 0
            params = {
                "symbol": "BTCUSDT",
                "side": "SELL" if sell else "BUY",
                "type": "LIMIT",
                "timeInForce": "IOC",
                "quantity": "0.001",
                "price": f"{bid * 0.999:.2f}" if sell else f"{ask * 1.001:.2f}",
                "newOrderRespType": "FULL",
                "timestamp": str(int(time.time() * 1000)),
            }
            query = urlencode(params)
            body = f"{query}&signature={sign(query, endpoint.secret)}"
            started = time.perf_counter()
            async with session.post(
                "https://api.binance.com/api/v3/order", data=body, headers=headers
            ) as response:
                payload = await response.json()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"worker {worker}: {response.status} {payload}")
            sent += 1
    return sent


async def _round(endpoint: VenueEndpoint, seconds: float, connections: int) -> tuple[float, float]:
    latencies: list[float] = []
    started = time.monotonic()
    counts = await asyncio.gather(
        *(_worker(endpoint, started + seconds, latencies, i) for i in range(connections))
    )
    elapsed = time.monotonic() - started
    return sum(counts) / elapsed, statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "bench.toml"
        world.write_text(WORLD, encoding="utf-8")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "router.cli",
                "sim",
                "serve",
                "--scenario",
                str(world),
                "--tls-dir",
                str(Path(tmp) / "tls"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            announced = json.loads(server.stdout.readline())
            venue = announced["venues"][0]
            endpoint = VenueEndpoint(
                name=venue["name"],
                port=venue["port"],
                ca_cert=Path(announced["ca_cert"]),
                api_key=venue["api_key"],
                secret=venue["secret"],
            )
            rates = []
            for index in range(args.rounds):
                rate, median_ms = asyncio.run(_round(endpoint, args.seconds, args.connections))
                rates.append(rate)
                print(
                    f"round {index + 1}: {rate:,.0f} signed orders/s, "
                    f"median latency {median_ms:.2f} ms ({args.connections} connections)"
                )
            print(
                f"median: {statistics.median(rates):,.0f} signed order requests/s "
                f"on one venue over loopback TLS"
            )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
