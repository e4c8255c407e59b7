"""Execution records and the quality metrics computed from them.

Every strategy of the quality bench hands back an :class:`Execution`: what it sold,
where, at what price and when, what it hedged, and how many orders it took. The metrics
are computed here, against figures every strategy of one (scenario, seed) shares: the
requested quantity, the arrival mid read at the decision instant and the scenario's
price when the escape window closes.

Implementation shortfall (Perold) is measured over the whole requested quantity: what
was sold counts at its fill prices, a hedged quantity at its hedge fill price, and a
quantity never exited is charged at the scenario's price at the end of the escape
window, so a strategy that does nothing is charged the market's move rather than
scoring 0. Prices are gross: fees are not part of the shortfall.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

ZERO = Decimal(0)
BPS = Decimal(10000)

Side = Literal["sell", "buy"]


@dataclass(frozen=True, slots=True)
class ExecFill:
    """One fill of a strategy: venue, quantity, price and scenario time."""

    venue: str
    quantity: Decimal
    price: Decimal
    at_s: Decimal


@dataclass(frozen=True)
class Execution:
    """What one strategy did with one close."""

    strategy: str
    fills: tuple[ExecFill, ...] = ()
    hedged: Decimal = ZERO
    hedge_notional: Decimal = ZERO
    """Quantity times price of the hedge legs' fills."""
    orders: int = 0
    venues_used: frozenset[str] = field(default_factory=frozenset)
    time_to_exit_s: Decimal = ZERO
    """Scenario seconds from the decision until the position was out (or the last fill)."""

    @property
    def sold(self) -> Decimal:
        return sum((f.quantity for f in self.fills), ZERO)

    @property
    def sold_notional(self) -> Decimal:
        return sum((f.quantity * f.price for f in self.fills), ZERO)


@dataclass(frozen=True)
class Reference:
    """What every strategy of one (scenario, seed) is measured against."""

    side: Side
    requested: Decimal
    arrival_mid: Decimal
    """Consolidated mid (best bid and best ask across venues) at the decision instant."""
    end_price: Decimal
    """The scenario's price when the escape window closes: the charge for what is stranded."""


@dataclass(frozen=True)
class Metrics:
    shortfall_bps: Decimal
    exited_fraction: Decimal
    time_to_exit_s: Decimal
    stranded: Decimal
    orders: Decimal
    hedge_notional: Decimal
    venues_used: Decimal


def exited(execution: Execution, requested: Decimal) -> Decimal:
    """Sold plus hedged, never more than was requested."""
    return min(execution.sold + execution.hedged, requested)


def exited_fraction(execution: Execution, requested: Decimal) -> Decimal:
    if requested <= 0:
        raise ValueError("the requested quantity must be positive")
    return exited(execution, requested) / requested


def stranded(execution: Execution, requested: Decimal) -> Decimal:
    return requested - exited(execution, requested)


def signed_bps(side: Side, arrival_mid: Decimal, price: Decimal) -> Decimal:
    """How much worse ``price`` is than the arrival mid for ``side``, in bps."""
    if arrival_mid <= 0:
        raise ValueError("the arrival mid must be positive")
    gap = arrival_mid - price if side == "sell" else price - arrival_mid
    return gap / arrival_mid * BPS


def shortfall_bps(execution: Execution, reference: Reference) -> Decimal:
    """Perold's implementation shortfall over the requested quantity, in bps.

    Sold quantity counts at its fills, hedged quantity at the hedge's average price and
    the stranded rest at ``reference.end_price``. A strategy that overfills (it cannot
    in the bench, but a hand-made record might) is measured on what it did.
    """
    sold, hedged = execution.sold, execution.hedged
    left = max(reference.requested - sold - hedged, ZERO)
    total = sold + hedged + left
    if total <= 0:
        raise ValueError("nothing requested and nothing done")
    notional = execution.sold_notional + execution.hedge_notional + left * reference.end_price
    return signed_bps(reference.side, reference.arrival_mid, notional / total)


def measure(execution: Execution, reference: Reference) -> Metrics:
    return Metrics(
        shortfall_bps=shortfall_bps(execution, reference),
        exited_fraction=exited_fraction(execution, reference.requested),
        time_to_exit_s=execution.time_to_exit_s,
        stranded=stranded(execution, reference.requested),
        orders=Decimal(execution.orders),
        hedge_notional=execution.hedge_notional,
        venues_used=Decimal(len(execution.venues_used)),
    )


METRIC_NAMES = (
    "shortfall_bps",
    "exited_fraction",
    "time_to_exit_s",
    "stranded",
    "orders",
    "hedge_notional",
    "venues_used",
)


def median_metrics(runs: Sequence[Metrics]) -> Metrics:
    """Each metric's median over the seeds (the mean of the middle two for an even count)."""
    if not runs:
        raise ValueError("no runs to summarise")
    medians = {
        name: Decimal(statistics.median([getattr(run, name) for run in runs]))
        for name in METRIC_NAMES
    }
    return Metrics(**medians)


ROUNDING = {
    "shortfall_bps": 2,
    "exited_fraction": 4,
    "time_to_exit_s": 1,
    "stranded": 8,
    "orders": 1,
    "hedge_notional": 2,
    "venues_used": 1,
}


def metrics_json(metrics: Metrics) -> dict[str, float]:
    """The metrics as JSON numbers (floats), rounded to what the figures can carry."""
    return {name: round(float(getattr(metrics, name)), ROUNDING[name]) for name in METRIC_NAMES}
