"""The close and hedge lifecycles, attempt purposes and the outcome rule."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from router.core.lifecycle import (
    CLOSE_TRANSITIONS,
    HEDGE_TRANSITIONS,
    CloseOutcome,
    CloseState,
    HedgeState,
    close_transition,
    hedge_transition,
    opened,
    unwound_state,
)
from router.core.orders import IllegalTransition
from router.core.outcome import CloseFigures, close_outcome
from router.core.purpose import OWN_PURPOSES, Purpose

D = Decimal


def test_the_values_are_the_journals_strings() -> None:
    assert [s.value for s in CloseState] == ["ACCEPTED", "RUNNING", "NEEDS_OPERATOR", "DONE"]
    assert [o.value for o in CloseOutcome] == ["FLAT", "HEDGED", "STRANDED"]
    assert [s.value for s in HedgeState] == ["OPENING", "OPEN", "UNWINDING", "CLOSED"]
    assert [p.value for p in Purpose] == ["close", "net", "hedge", "unwind", "release"]


def test_the_close_s_own_orders_are_its_sales_and_crossings() -> None:
    assert {Purpose.CLOSE, Purpose.NET} == OWN_PURPOSES
    assert "net" in OWN_PURPOSES
    assert "hedge" not in OWN_PURPOSES


def test_every_close_move_outside_the_table_raises() -> None:
    for current, new in itertools.product(CloseState, CloseState):
        if new in CLOSE_TRANSITIONS[current]:
            assert close_transition(current, new) is new
        else:
            with pytest.raises(IllegalTransition):
                close_transition(current, new)
    assert CLOSE_TRANSITIONS[CloseState.DONE] == frozenset()


def test_every_hedge_move_outside_the_table_raises() -> None:
    for current, new in itertools.product(HedgeState, HedgeState):
        if new in HEDGE_TRANSITIONS[current]:
            assert hedge_transition(current, new) is new
        else:
            with pytest.raises(IllegalTransition):
                hedge_transition(current, new)


def test_hedge_states_from_quantities() -> None:
    assert opened(D("0.5")) is HedgeState.OPEN
    assert opened(D(0)) is HedgeState.CLOSED
    assert unwound_state(D("0.2"), D("0.5")) is HedgeState.UNWINDING
    assert unwound_state(D("0.5"), D("0.5")) is HedgeState.CLOSED


@pytest.mark.parametrize(
    ("filled", "hedged", "in_doubt", "perp_lot", "unknown", "outcome"),
    [
        ("10", "0", "0", "0.01", False, CloseOutcome.FLAT),
        ("6", "4", "0", "0.01", False, CloseOutcome.HEDGED),
        # dust below the smallest perp lot, nothing in doubt
        ("6", "3.995", "0", "0.01", False, CloseOutcome.HEDGED),
        # the same dust while an order is in doubt, or with no perp lot known
        ("6", "3.995", "1", "0.01", False, CloseOutcome.STRANDED),
        ("6", "3.995", "0", None, False, CloseOutcome.STRANDED),
        # more than a lot left, or nothing hedged
        ("6", "3.9", "0", "0.01", False, CloseOutcome.STRANDED),
        ("9.995", "0", "0", "0.01", False, CloseOutcome.STRANDED),
        # nobody can say the close is flat
        ("10", "0", "0", "0.01", True, CloseOutcome.STRANDED),
    ],
)
def test_the_outcome_rule(
    filled: str,
    hedged: str,
    in_doubt: str,
    perp_lot: str | None,
    unknown: bool,
    outcome: CloseOutcome,
) -> None:
    figures = CloseFigures(D(10), D(filled), D(hedged), D(in_doubt))
    lot = None if perp_lot is None else D(perp_lot)
    assert close_outcome(figures, perp_lot=lot, unknown=unknown) is outcome
