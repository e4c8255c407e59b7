"""Fault injection per venue and endpoint, from scenario files and from tests."""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from decimal import Decimal

from router.sim.scenario import FaultKind, FaultSpec


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
