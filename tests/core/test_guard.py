"""Guard mode's decision, tier by tier."""

from __future__ import annotations

from decimal import Decimal

from router.core.guard import GuardedPosition, evaluate
from router.core.liquidity import EscapeWindow
from router.core.policy import Policy

D = Decimal
LONG = GuardedPosition("p", "BTC", "long", D(100), D(2))
SHORT = GuardedPosition("s", "BTC", "short", D(100), D(2))


def test_tiers_fire_once_each_with_their_tolerance() -> None:
    policy = Policy()
    assert evaluate(LONG, D(95), None, policy, frozenset()) is None
    first = evaluate(LONG, D(90), None, policy, frozenset())
    assert first is not None
    assert (first.rung, first.tolerance, first.kind) == (0, D("0.05"), "stop_tier")
    assert evaluate(LONG, D(89), None, policy, frozenset({0})) is None
    second = evaluate(LONG, D(80), None, policy, frozenset({0}))
    assert second is not None
    assert (second.rung, second.tolerance) == (1, D("0.10"))
    third = evaluate(LONG, D(65), None, policy, frozenset({0, 1}))
    assert third is not None
    assert (third.rung, third.tolerance) == (2, None)
    assert "unbounded" in third.reason


def test_short_positions_lose_when_the_price_rises() -> None:
    trigger = evaluate(SHORT, D(121), None, Policy(), frozenset())
    assert trigger is not None
    assert trigger.rung == 1
    assert trigger.unrealized_pnl == D("-0.21")
    assert SHORT.close_side == "buy"


def test_escape_window_under_60_s_escapes_at_the_top_rung() -> None:
    trigger = evaluate(LONG, D(99), EscapeWindow(D(45), True), Policy(), frozenset())
    assert trigger is not None
    assert (trigger.kind, trigger.rung, trigger.tolerance) == ("escape_now", 2, None)
    assert "45 s" in trigger.reason
    assert evaluate(LONG, D(99), EscapeWindow(D(300), False), Policy(), frozenset()) is None
