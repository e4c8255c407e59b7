"""What one chaos run found, and the summary over many."""

from __future__ import annotations

import os
import platform
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from router.chaos.invariants import Violation

UNHANDLED = "unhandled"
"""An exception that escaped the engine (or a worker that died on its own)."""


@dataclass
class RunReport:
    kind: str
    seed: int
    outcome: str | None = None
    violations: list[Violation] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)
    crashes: int = 0
    unwinds: int = 0
    """Hedges unwound with the router killed while buying back (crash runs)."""
    takeovers: int = 0
    """Closes a second router took over (takeover runs)."""
    db_restarts: int = 0
    """Journal server restarts while the close ran (database-restart runs)."""
    seconds: float = 0.0

    def note(self, problem: Violation | None) -> None:
        """Record a worker's problem, if it had one."""
        if problem is not None:
            self.violations.append(problem)


@dataclass
class Summary:
    runs: int = 0
    crash_runs: int = 0
    crashes: int = 0
    unwinds: int = 0
    takeover_runs: int = 0
    takeovers: int = 0
    db_restart_runs: int = 0
    db_restarts: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    violating: dict[str, list[int]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    slowest_s: float = 0.0

    def add(self, report: RunReport) -> None:
        if report.kind == "crash":
            self.crash_runs += 1
        elif report.kind == "takeover":
            self.takeover_runs += 1
        elif report.kind == "db-restart":
            self.db_restart_runs += 1
        else:
            self.runs += 1
        self.crashes += report.crashes
        self.takeovers += report.takeovers
        self.unwinds += report.unwinds
        self.db_restarts += report.db_restarts
        self.faults.update(report.injected)
        self.outcomes[report.outcome or "none"] += 1
        self.slowest_s = max(self.slowest_s, report.seconds)
        for violation in report.violations:
            self.violations[violation.invariant] += 1
            seeds = self.violating.setdefault(f"{report.kind}:{violation.invariant}", [])
            if report.seed not in seeds:
                seeds.append(report.seed)
            if len(self.examples) < 20:
                self.examples.append(
                    {"kind": report.kind, "seed": report.seed, "violation": str(violation)}
                )

    @property
    def unhandled(self) -> int:
        return self.violations[UNHANDLED]

    @property
    def failed(self) -> bool:
        return sum(self.violations.values()) > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "crash_runs": self.crash_runs,
            "crashes": self.crashes,
            "unwinds": self.unwinds,
            "takeover_runs": self.takeover_runs,
            "takeovers": self.takeovers,
            "db_restart_runs": self.db_restart_runs,
            "db_restarts": self.db_restarts,
            "faults_injected": dict(sorted(self.faults.items())),
            "faults_total": sum(self.faults.values()),
            "outcomes": dict(sorted(self.outcomes.items())),
            "violations": dict(sorted(self.violations.items())),
            "violating_seeds": {k: sorted(v) for k, v in sorted(self.violating.items())},
            "examples": self.examples,
            "unhandled": self.unhandled,
            "wall_s": round(self.wall_s, 1),
            "slowest_run_s": round(self.slowest_s, 2),
            "machine": machine(),
        }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
