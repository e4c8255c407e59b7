"""Random crisis stages, fault mixes and close requests, drawn from one seeded ``Random``."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any, get_args

from router.sim.scenario import FaultKind, FaultSpec, NonsenseVariant

FAULT_KINDS: tuple[FaultKind, ...] = (
    "outage",
    "rate_limit",
    "ip_ban",
    "latency",
    "timeout_after_accept",
    "garbled",
    "partial_fill",
    "insufficient_balance",
)
ORDER_ENDPOINTS = ("POST /api/v3/order", "POST /fapi/v1/order")
READ_ENDPOINTS = (
    "GET /api/v3/depth",
    "GET /api/v3/account",
    "GET /api/v3/order",
    "GET /api/v3/myTrades",
    "GET /fapi/v1/depth",
    "GET /fapi/v2/account",
    "GET /fapi/v1/order",
)
ANY_ENDPOINTS = ("*", "* /api/v3/*", "* /fapi/*", *ORDER_ENDPOINTS, *READ_ENDPOINTS)
ENDPOINTS: dict[FaultKind, tuple[str, ...]] = {
    "outage": ANY_ENDPOINTS,
    "rate_limit": ANY_ENDPOINTS,
    "ip_ban": ANY_ENDPOINTS,
    "latency": ANY_ENDPOINTS,
    "timeout_after_accept": ORDER_ENDPOINTS,
    "garbled": ("*", *ORDER_ENDPOINTS, *READ_ENDPOINTS),
    "partial_fill": ORDER_ENDPOINTS,
    "insufficient_balance": ORDER_ENDPOINTS,
}
NONSENSE_VARIANTS: tuple[NonsenseVariant, ...] = get_args(NonsenseVariant)
NONSENSE_ENDPOINTS = (
    "POST /api/v3/order",
    "POST /fapi/v1/order",
    "GET /api/v3/depth",
    "GET /fapi/v1/depth",
    "GET /api/v3/order",
    "GET /fapi/v1/order",
)
START_KINDS: tuple[FaultKind, ...] = ("rate_limit", "ip_ban", "outage", "garbled")
"""429, 418, 503 and a garbled body: what a venue answers the close's first reads."""
MARKETS_ENDPOINT = "GET /api/v3/exchangeInfo"
START_ENDPOINTS = ("GET /api/v3/account", MARKETS_ENDPOINT, "GET /api/v3/depth")
"""Balance, markets and book: the reads a close's position rests on."""
START_FAULT_SHARE = 0.35
"""Share of the runs whose close meets read faults in its first second."""
WHOLE_SHARE = 0.5
"""Share of the runs drawn with an explicit quantity that close ``all`` instead (with
the 15 % :func:`random_request_fields` draws itself, 57.5 % of the runs close ``all``)."""
ADAPTER_TIMEOUT_S = 2.0
"""The adapters' request timeout in storms: latency spikes beyond it become timeouts."""


def _dec(value: float, places: str = "0.01") -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places))


def crisis_stages(rng: random.Random) -> list[dict[str, Any]]:
    """One to three stages going from panic towards exhaustion or collapse."""
    stages: list[dict[str, Any]] = []
    at = 0.0
    depth = rng.uniform(0.2, 1.2)
    spread = rng.uniform(2, 30)
    for index in range(rng.randint(1, 3)):
        stages.append(
            {
                "at_s": str(_dec(at, "1")),
                "label": ("panic", "exhaustion", "collapse")[index],
                "depth": str(_dec(depth, "0.001")),
                "spread_bps": str(_dec(spread, "0.1")),
                "book_stretch": str(_dec(rng.uniform(1, 80), "0.1")),
                "sell_flow": str(_dec(rng.uniform(0, 0.6), "0.001")),
                "buy_flow": str(_dec(rng.uniform(0, 0.2), "0.001")),
                "futures_depth": str(_dec(rng.uniform(0.3, 1.0), "0.001")),
            }
        )
        at += rng.uniform(5, 60)
        depth *= rng.uniform(0.02, 0.6)
        spread *= rng.uniform(1.5, 8)
    return stages


def random_fault(rng: random.Random, kind: FaultKind | None = None) -> FaultSpec:
    """One fault with a random endpoint, window, probability and count."""
    chosen: FaultKind = kind if kind is not None else rng.choice(FAULT_KINDS)
    start = rng.choice((0.0, rng.uniform(0, 5), rng.uniform(0, 30)))
    end = None if rng.random() < 0.3 else start + rng.uniform(1, 60)
    fields: dict[str, Any] = {
        "kind": chosen,
        "endpoint": rng.choice(ENDPOINTS[chosen]),
        "start_s": _dec(start),
        "end_s": None if end is None else _dec(end),
        "probability": rng.choice((Decimal(1), Decimal("0.5"), Decimal("0.2"), _dec(rng.random()))),
        "count": None if rng.random() < 0.4 else rng.randint(1, 6),
        "retry_after_s": rng.randint(0, 5),
        "fill_ratio": _dec(rng.random()),
        "mode": rng.choice(("code_1007", "drop")),
    }
    if chosen == "latency":
        spike = rng.random() < 0.15
        fields["latency_ms"] = _dec(rng.uniform(2100, 2600) if spike else rng.uniform(20, 600), "1")
        fields["count"] = rng.randint(1, 3) if spike else fields["count"] or 20
    return FaultSpec(**fields)


def random_faults(rng: random.Random, venues: list[str]) -> dict[str, list[FaultSpec]]:
    """Zero to five faults for each venue."""
    return {name: [random_fault(rng) for _ in range(rng.randint(0, 5))] for name in venues}


def nonsense_faults(rng: random.Random, venues: list[str]) -> dict[str, list[FaultSpec]]:
    """Zero to two ``nonsense`` faults for each venue: well-formed answers that make no
    sense (crossed or negative books, numbers as words, an order answer with fields
    missing or naming another order).

    Drawn from a random source of their own, so adding them left the other faults of
    every seed as they were (the seeds of earlier findings replay unchanged).
    """
    faults: dict[str, list[FaultSpec]] = {}
    for name in venues:
        faults[name] = [
            FaultSpec(
                kind="nonsense",
                endpoint=rng.choice(NONSENSE_ENDPOINTS),
                variant=rng.choice(NONSENSE_VARIANTS),
                start_s=_dec(rng.uniform(0, 20)),
                end_s=None,
                probability=rng.choice((Decimal(1), Decimal("0.5"), Decimal("0.2"))),
                count=rng.randint(1, 4),
            )
            for _ in range(rng.choice((0, 0, 1, 2)))
        ]
    return faults


def random_request_fields(rng: random.Random) -> dict[str, Any]:
    """Quantity, urgency, stop tier, hedging and deadline of a sell close."""
    quantity: Any = "all" if rng.random() < 0.15 else str(_dec(rng.uniform(0.05, 13), "0.001"))
    fields: dict[str, Any] = {
        "symbol": "BTC",
        "side": "sell",
        "quantity": quantity,
        "urgency": str(_dec(rng.random())),
        "danger": str(_dec(rng.random())),
        "allow_hedge": rng.random() < 0.7,
    }
    if rng.random() < 0.8:
        fields["unrealized_pnl"] = str(_dec(rng.uniform(-0.5, 0.1), "0.001"))
    if rng.random() < 0.3:
        fields["deadline_s"] = str(_dec(rng.uniform(5, 600), "1"))
    return fields


def start_fault(rng: random.Random) -> FaultSpec:
    """One read fault from the close's first instant: mostly gone within the second, a
    quarter of them lasting up to 45 s (beyond the 30 s a close waits for holdings)."""
    kind = rng.choice(START_KINDS)
    endpoint = rng.choice(START_ENDPOINTS)
    lasting = rng.random() < 0.25
    end = rng.uniform(1, 45) if lasting else rng.uniform(0.2, 1.0)
    return FaultSpec(
        kind=kind,
        endpoint=endpoint,
        start_s=Decimal(0),
        end_s=_dec(end),
        probability=rng.choice((Decimal(1), Decimal(1), Decimal("0.5"))),
        count=None,
        retry_after_s=rng.randint(0, 3),
    )


def start_faults(rng: random.Random, venues: list[str]) -> dict[str, list[FaultSpec]]:
    """In :data:`START_FAULT_SHARE` of the runs, one or two read faults (balance,
    markets, book) at the close's first second on one to all venues; none otherwise.

    Their windows are relative to the close's start; the markets' (``exchangeInfo``)
    hit the venue while the world loads its markets.
    """
    faults: dict[str, list[FaultSpec]] = {name: [] for name in venues}
    if rng.random() >= START_FAULT_SHARE:
        return faults
    for name in sorted(rng.sample(venues, rng.randint(1, len(venues)))):
        faults[name] = [start_fault(rng) for _ in range(rng.randint(1, 2))]
    return faults


def whole_close(rng: random.Random, fields: dict[str, Any]) -> dict[str, Any]:
    """The request, turned into a close of everything held (``quantity = "all"``) in
    :data:`WHOLE_SHARE` of the runs drawn with an explicit quantity."""
    if rng.random() >= WHOLE_SHARE or fields["quantity"] == "all":
        return fields
    return {**fields, "quantity": "all"}
