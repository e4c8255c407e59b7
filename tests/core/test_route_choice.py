"""Spot or perpetual: the hedge wins only when it is worth more than spot by the margin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.core.allocation import Allocation, VenueQuote, allocate
from router.core.book import Side
from router.core.route_choice import hedge_beats_spot

D = Decimal


def _plan(side: Side, levels: list[tuple[str, str]], quantity: str) -> Allocation:
    quote = VenueQuote(
        name="v",
        levels=tuple((D(p), D(q)) for p, q in levels),
        inventory=D(1000),
        lot_step=D("0.001"),
    )
    return allocate([quote], side, D(quantity), None)


def test_a_gutted_spot_book_loses_to_a_deep_perp() -> None:
    spot = _plan(Side.SELL, [("3300", "1"), ("3000", "5")], "6")
    perp = _plan(Side.SELL, [("3900", "20")], "6")
    assert hedge_beats_spot(Side.SELL, D(6), spot, perp, D("0.005"))


def test_spot_near_the_perp_keeps_selling_spot() -> None:
    spot = _plan(Side.SELL, [("3890", "6")], "6")
    perp = _plan(Side.SELL, [("3900", "20")], "6")
    assert not hedge_beats_spot(Side.SELL, D(6), spot, perp, D("0.005"))
    assert hedge_beats_spot(Side.SELL, D(6), spot, perp, D("0.001"))


def test_a_perp_covering_part_still_wins_per_unit() -> None:
    """What the perpetual cannot take goes back to spot; the choice is per unit."""
    spot = _plan(Side.SELL, [("3000", "6")], "6")
    perp = _plan(Side.SELL, [("3900", "2")], "6")
    assert hedge_beats_spot(Side.SELL, D(6), spot, perp, D("0.005"))
    empty = _plan(Side.SELL, [], "6")
    assert not hedge_beats_spot(Side.SELL, D(6), spot, empty, D("0.005"))


def test_spot_filling_nothing_is_not_a_reason_by_itself() -> None:
    """Spot filling nothing at this rung: escalate first, the next rung may fill."""
    spot = _plan(Side.SELL, [], "6")
    perp = _plan(Side.SELL, [("3900", "20")], "6")
    assert not hedge_beats_spot(Side.SELL, D(6), spot, perp, D("0.005"))


@pytest.mark.parametrize(("ask", "hedge"), [("4400", True), ("3905", False)])
def test_buy_side_mirrors(ask: str, hedge: bool) -> None:
    spot = _plan(Side.BUY, [("3900", "1"), (ask, "5")], "6")
    perp = _plan(Side.BUY, [("3900", "20")], "6")
    assert hedge_beats_spot(Side.BUY, D(6), spot, perp, D("0.005")) is hedge


def test_never_hedging_early_is_a_policy_choice() -> None:
    from router.core.policy import parse_policy

    assert parse_policy({"hedge_margin": "never"}).hedge_margin is None
    assert parse_policy({}).hedge_margin == D("0.005")
