"""Small statistics shared by the speed benchmarks: median and nearest-rank percentiles."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], share: float) -> float:
    """The sample at rank ``share`` of the sorted samples (nearest rank, no interpolation)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def median(samples: list[float]) -> float:
    if not samples:
        raise ValueError("no samples")
    return statistics.median(samples)


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded to microseconds for printing and JSON."""
    return round(seconds * 1000, 3)
