"""Policies from config and the order state machine."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from router.config import load_policy
from router.core.orders import FINAL_STATES, TRANSITIONS, IllegalTransition, OrderState, transition
from router.core.policy import Policy, PolicyError, parse_policy

D = Decimal


def test_shipped_policy_is_the_seed() -> None:
    assert load_policy(environ={}) == Policy()


@pytest.mark.parametrize(
    ("pnl", "tier", "rung"),
    [
        ("-0.05", None, 0),
        ("-0.10", "normal", 0),
        ("-0.15", "normal", 0),
        ("-0.20", "emergency", 1),
        ("-0.35", "survival", 2),
        ("-1", "survival", 2),
    ],
)
def test_stop_tiers(pnl: str, tier: str | None, rung: int) -> None:
    policy = Policy()
    found = policy.stop_tier(D(pnl))
    assert (found.name if found else None) == tier
    assert policy.starting_rung(D(pnl)) == rung


def test_ladder_climbs_to_unbounded() -> None:
    policy = Policy()
    assert [policy.tolerance(r) for r in range(3)] == [D("0.05"), D("0.10"), None]
    assert policy.next_rung(0) == 1
    assert policy.next_rung(2) is None


@pytest.mark.parametrize(
    ("urgency", "batches", "spacing", "pricing"),
    [
        ("0.9", 1, "0", "aggressive"),
        ("0.8", 3, "1", "aggressive"),
        ("0.6", 3, "1", "aggressive"),
        ("0.5", 5, "5", "passive"),
        ("0", 5, "5", "passive"),
    ],
)
def test_urgency_schedule(urgency: str, batches: int, spacing: str, pricing: str) -> None:
    band = Policy().schedule(D(urgency))
    assert (band.batches, band.spacing_s, band.pricing) == (batches, D(spacing), pricing)


def test_escape_now_forces_one_batch() -> None:
    assert Policy().schedule(D("0.1"), escape_now=True).batches == 1


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"ladder": ["0.10", "0.05", "unbounded"]}, "ladder"),
        ({"ladder": ["unbounded", "0.05"]}, "ladder"),
        ({"escalate_below_fill_ratio": "2"}, "escalate_below_fill_ratio"),
        (
            {"urgency": [{"above": "0.5", "batches": 0, "spacing_s": "1", "pricing": "passive"}]},
            "urgency.0.batches",
        ),
        ({"liquidity": {"close_below": "abc"}}, "liquidity.close_below"),
        ({"liquidty": {}}, "liquidty"),
        (
            {"stop_tiers": [{"name": "x", "pnl_at_or_below": "-0.1", "max_slippage": "0.07"}]},
            "stop_tiers.x",
        ),
    ],
)
def test_invalid_policy_names_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        parse_policy(raw, source="policy.toml")


def test_policy_file_errors(tmp_path: Path) -> None:
    broken = tmp_path / "policy.toml"
    broken.write_text("[policy]\nladder = [", encoding="utf-8")
    with pytest.raises(PolicyError, match="invalid TOML"):
        load_policy(broken, environ={})
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.toml", environ={})
    custom = tmp_path / "custom.toml"
    custom.write_text('[policy]\nladder = ["0.02", "0.05", "0.10", "unbounded"]\n', "utf-8")
    assert load_policy(custom, environ={}).tolerance(0) == D("0.02")


def test_every_transition_outside_the_table_raises() -> None:
    for current, new in itertools.product(OrderState, OrderState):
        if new in TRANSITIONS[current]:
            assert transition(current, new) is new
        else:
            with pytest.raises(IllegalTransition):
                transition(current, new)


def test_final_states_are_final_and_everything_is_reachable() -> None:
    for state in FINAL_STATES:
        assert TRANSITIONS[state] == frozenset()
        assert state.final
    reached = {OrderState.PENDING_SEND}
    frontier = [OrderState.PENDING_SEND]
    while frontier:
        for following in TRANSITIONS[frontier.pop()]:
            if following not in reached:
                reached.add(following)
                frontier.append(following)
    assert reached == set(OrderState)
    assert OrderState.UNKNOWN.in_doubt
    assert not OrderState.OPEN.in_doubt
