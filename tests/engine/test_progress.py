"""The engine's progress hook: snapshots after every wave that add up to the outcome."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.core.policy import Policy
from router.engine.engine import Engine
from router.engine.outcome import CloseResult
from router.engine.progress import CloseProgress
from router.sim.scenario import FaultSpec, Scenario
from tests.engine.conftest import World
from tests.engine.test_close import EXHAUSTION

D = Decimal


def _check_snapshots(snapshots: list[CloseProgress], result: CloseResult) -> None:
    """Per-venue fills never go down and end on the outcome's per-venue figures."""
    assert snapshots, "the hook was never called"
    assert {s.close_id for s in snapshots} == {result.close_id}
    assert all(s.requested == result.requested for s in snapshots)
    seen: dict[str, Decimal] = {}
    waves = 0
    for snap in snapshots:
        assert snap.wave >= waves
        waves = snap.wave
        for name, filled in snap.filled_by_venue.items():
            assert filled >= seen.get(name, D(0)), f"{name} went down at wave {snap.wave}"
            seen[name] = filled
        assert snap.filled == sum(snap.filled_by_venue.values(), D(0))
    final = snapshots[-1]
    assert final.done
    assert final.outcome == result.outcome
    assert final.filled == result.filled
    assert final.hedged == result.hedged
    expected = {name: v.filled for name, v in result.venues.items()}
    got = {name: q for name, q in final.filled_by_venue.items() if q > 0 or name in expected}
    assert got == expected
    order = {"spot": 0, "hedge": 1, "done": 2}
    phases = [order[s.phase] for s in snapshots]
    assert phases == sorted(phases)
    assert phases.count(order["done"]) == 1


async def test_hook_sees_every_wave_and_ends_on_the_outcome(world: World) -> None:
    for name in world.adapters:
        world.venue(name).faults.add(FaultSpec(kind="partial_fill", fill_ratio=D("0.3")))
    snapshots: list[CloseProgress] = []
    result = await world.engine.close(world.request(quantity="4"), on_progress=snapshots.append)
    assert result.outcome == "FLAT"
    _check_snapshots(snapshots, result)
    waves = {s.wave for s in snapshots if s.phase == "spot"}
    assert {0, 1, 2, 3} <= waves
    assert snapshots[0].filled == 0
    assert [v.name for v in snapshots[0].venues] == ["alpha", "bravo", "charlie"]
    assert snapshots[0].elapsed_s <= snapshots[-1].elapsed_s


async def test_hook_reports_an_outage_as_an_open_circuit(world: World) -> None:
    world.venue("bravo").faults.add(FaultSpec(kind="outage", start_s=D("0.5")))
    snapshots: list[CloseProgress] = []
    batching = Engine(
        world.journal,
        world.adapters,
        world.health,
        Policy(split_above_impact=D(0)),
        pacing=world.engine.pacing,
    )
    result = await batching.close(
        world.request(quantity="10", urgency="0.6"), on_progress=snapshots.append
    )
    _check_snapshots(snapshots, result)
    circuits = {v.circuit for s in snapshots for v in s.venues if v.name == "bravo"}
    assert "open" in circuits


@pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])
async def test_hook_follows_escalation_into_the_hedge(world: World, scenario: Scenario) -> None:
    snapshots: list[CloseProgress] = []
    request = world.request(quantity="12", unrealized_pnl="-0.12", deadline_s="120")
    result = await world.engine.close(request, on_progress=snapshots.append)
    assert result.outcome == "HEDGED", result.reason
    _check_snapshots(snapshots, result)
    rungs = [s.rung for s in snapshots]
    assert rungs == sorted(rungs)
    assert rungs[-1] == 2
    assert snapshots[-1].tolerance is None
    assert [s.phase for s in snapshots][-2:] == ["hedge", "done"]
    assert snapshots[-2].hedged == 0
    assert snapshots[-1].hedged == result.hedged > 0


async def test_a_failing_hook_never_breaks_the_close(world: World) -> None:
    calls: list[int] = []

    def broken(progress: CloseProgress) -> None:
        calls.append(progress.wave)
        raise RuntimeError("display went away")

    result = await world.engine.close(world.request(quantity="3"), on_progress=broken)
    assert result.outcome == "FLAT"
    assert result.filled == D(3)
    assert len(calls) >= 2
