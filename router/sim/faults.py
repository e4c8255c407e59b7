"""Fault injection per venue and endpoint, from scenario files and from tests."""

from __future__ import annotations

import copy
import fnmatch
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.sim.scenario import FaultKind, FaultSpec, NonsenseVariant

_ORDER_NUMBERS = (
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "cumQty",
    "cumQuote",
    "avgPrice",
)
_ORDER_IDS = ("orderId", "status", "clientOrderId", "executedQty", "transactTime", "updateTime")


@dataclass
class ActiveFault:
    spec: FaultSpec
    fired: int = 0

    def matches(self, method: str, path: str, t: Decimal) -> bool:
        spec = self.spec
        if spec.count is not None and self.fired >= spec.count:
            return False
        if t < spec.start_s or (spec.end_s is not None and t >= spec.end_s):
            return False
        return spec.endpoint == "*" or fnmatch.fnmatchcase(f"{method} {path}", spec.endpoint)


@dataclass
class FaultInjector:
    """Decides which faults hit a request; seeded, so a run can be replayed."""

    seed: int
    faults: list[ActiveFault] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, spec: FaultSpec) -> ActiveFault:
        fault = ActiveFault(spec)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def pick(self, method: str, path: str, t: Decimal) -> dict[FaultKind, FaultSpec]:
        """The faults that fire for this request, at most one of each kind."""
        chosen: dict[FaultKind, FaultSpec] = {}
        for fault in self.faults:
            kind = fault.spec.kind
            if kind in chosen or not fault.matches(method, path, t):
                continue
            if fault.spec.probability < 1 and self._rng.random() >= fault.spec.probability:
                continue
            fault.fired += 1
            chosen[kind] = fault.spec
            self.injected[kind] = self.injected.get(kind, 0) + 1
        return chosen


def nonsense(answer: Any, variant: NonsenseVariant) -> Any:
    """A well-formed JSON answer spoiled the way ``variant`` says: a crossed book,
    negative prices, numbers as words or nulls, an order answer with its id and status
    left out or naming another client order id. Answers the variant does not apply to
    are returned unchanged."""
    if not isinstance(answer, dict):
        return answer
    spoiled = copy.deepcopy(answer)
    if "bids" in spoiled and "asks" in spoiled:
        _spoil_book(spoiled, variant)
    elif "clientOrderId" in spoiled:
        _spoil_order(spoiled, variant)
    return spoiled


def _spoil_book(book: dict[str, Any], variant: NonsenseVariant) -> None:
    if variant == "crossed_book":
        book["bids"], book["asks"] = book["asks"], book["bids"]
    elif variant == "negative_price":
        for side in ("bids", "asks"):
            book[side] = [[f"-{price}", qty] for price, qty in book[side]]
    elif variant == "string_numbers":
        book["bids"] = [["n/a", "lots"] for _ in book["bids"]]
    elif variant == "null_numbers":
        book["asks"] = [[None, None] for _ in book["asks"]]
    elif variant == "missing_fields":
        del book["bids"]


def _spoil_order(order: dict[str, Any], variant: NonsenseVariant) -> None:
    if variant == "string_numbers":
        for key in _ORDER_NUMBERS:
            if key in order:
                order[key] = "n/a"
        for fill in order.get("fills", []):
            fill["price"], fill["qty"] = "n/a", "plenty"
    elif variant == "null_numbers":
        for key in _ORDER_NUMBERS:
            if key in order:
                order[key] = None
        for fill in order.get("fills", []):
            fill["price"] = fill["qty"] = None
    elif variant == "missing_fields":
        for key in _ORDER_IDS:
            order.pop(key, None)
    elif variant == "other_client_id":
        order["clientOrderId"] = f"someone-else-{order['clientOrderId']}"[:36]
    elif variant == "negative_price":
        for fill in order.get("fills", []):
            fill["price"] = f"-{fill['price']}"
