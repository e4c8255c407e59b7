"""Regenerate the simulator's order-book profiles from raw Binance L2 recordings.

Each recording is a gzip text file with one message per line, ``<ns timestamp> <JSON>``;
exactly one line is a REST depth snapshot ``{"lastUpdateId": ..., "bids": [...],
"asks": [...]}``. This script extracts that snapshot and writes the profile the
simulator ships: the mid, and for each side every level as (distance from the mid in
basis points, quantity), best first.

Usage::

    python scripts/extract_l2_profile.py binance-spot-btcusdt-20240808.gz \\
        binance-usdm-btcusdt-20240808.gz --out-dir router/sim/data

The market (``spot`` or ``usdm``) is read from each file name; the output is
``l2-profile-<market>.json``. The package only reads the JSON files, never this script.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from decimal import Decimal
from pathlib import Path

BPS = Decimal(10000)
DISTANCE_PLACES = Decimal("0.000001")
MARKETS = ("spot", "usdm")


def find_snapshot(path: Path) -> dict[str, object]:
    """The single REST depth snapshot of a recording."""
    found: list[dict[str, object]] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            _, _, payload = line.partition(" ")
            if '"lastUpdateId"' not in payload or payload.lstrip().startswith('{"stream"'):
                continue
            message = json.loads(payload)
            if isinstance(message, dict) and "bids" in message and "asks" in message:
                found.append(message)
    if len(found) != 1:
        raise SystemExit(f"{path.name}: expected exactly one depth snapshot, found {len(found)}")
    return found[0]


def market_of(path: Path) -> str:
    matches = [market for market in MARKETS if market in path.name]
    if len(matches) != 1:
        raise SystemExit(f"{path.name}: cannot tell the market; name must contain spot or usdm")
    return matches[0]


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def profile(snapshot: dict[str, object], source: str, market: str) -> dict[str, object]:
    raw_bids = snapshot["bids"]
    raw_asks = snapshot["asks"]
    assert isinstance(raw_bids, list)
    assert isinstance(raw_asks, list)
    bids = [(Decimal(p), Decimal(q)) for p, q in raw_bids]
    asks = [(Decimal(p), Decimal(q)) for p, q in raw_asks]
    bids.sort(key=lambda level: -level[0])
    asks.sort(key=lambda level: level[0])
    mid = (bids[0][0] + asks[0][0]) / 2

    def side(levels: list[tuple[Decimal, Decimal]]) -> list[list[object]]:
        return [
            [float((abs(price - mid) / mid * BPS).quantize(DISTANCE_PLACES)), _plain(qty)]
            for price, qty in levels
        ]

    return {
        "source": source,
        "market": market,
        "symbol": "BTCUSDT",
        "last_update_id": snapshot["lastUpdateId"],
        "mid": _plain(mid),
        "best_bid": _plain(bids[0][0]),
        "best_ask": _plain(asks[0][0]),
        "levels": len(bids),
        "bids": side(bids),
        "asks": side(asks),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", nargs="+", type=Path, help="gzip L2 recordings")
    parser.add_argument("--out-dir", type=Path, default=Path("router/sim/data"))
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path in args.recordings:
        market = market_of(path)
        data = profile(find_snapshot(path), path.name, market)
        out = args.out_dir / f"l2-profile-{market}.json"
        out.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"{out}: mid {data['mid']}, {data['levels']} levels a side")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
