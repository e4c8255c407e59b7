"""The ``position`` invariant: every close covers its whole position, venue by venue.

Hand-built journals and ledgers show it finding what it must (a FLAT close of
everything held that left a venue holding, holdings unknown and not named, a residual
the venues do not make, a hedge attributed to no venue); real closes — under read faults
at their first second, markets that load late, whole closes — pass it. Storms draw such
faults and whole closes often enough.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from router.chaos.faults import MARKETS_ENDPOINT, START_ENDPOINTS, START_KINDS
from router.chaos.invariants import INVARIANTS, JournalSnapshot, VenueLedger, Violation, check
from router.chaos.storm import plan_storm, run_storm
from router.chaos.world import build_world, three_venues
from router.engine.request import CloseRequest
from router.journal.holdings import holdings
from router.sim.orders import Order, Trade
from router.sim.scenario import FaultSpec
from tests.chaos.test_invariants import _attempt, _close, _fill, _holding, _order, _trade

D = Decimal
LOT = D("0.001")
WHOLE = {"quantity": "all"}


def _details(violations: list[Violation], invariant: str = "position") -> list[str]:
    return [v.detail for v in violations if v.invariant == invariant]


def _perp(order_id: int, client_id: str, qty: Decimal) -> tuple[Order, Trade]:
    order = replace(_order(order_id, client_id, qty), market="linear")
    return order, replace(_trade(order_id * 10, order_id, qty), market="linear")


def _whole() -> tuple[JournalSnapshot, list[VenueLedger]]:
    """A close of everything held, FLAT: alpha held 3 and sold 3, bravo held 1 and sold 1."""
    journal = JournalSnapshot(
        closes=[_close(requested_qty=D(4), filled_qty=D(4), request=WHOLE)],
        attempts=[_attempt("c1", D(3)), _attempt("c2", D(1), venue="bravo")],
        fills=[_fill(10, D(3), "c1"), replace(_fill(20, D(1), "c2"), venue="bravo")],
        holdings={"cl_1": [_holding("alpha", D(3)), _holding("bravo", D(1))]},
    )
    alpha = VenueLedger(
        "alpha", [_order(1, "c1", D(3))], [_trade(10, 1, D(3))], {"BTC": D(3)}, {"BTC": D(0)}, LOT
    )
    bravo = VenueLedger(
        "bravo", [_order(1, "c2", D(1))], [_trade(20, 1, D(1))], {"BTC": D(1)}, {"BTC": D(0)}, LOT
    )
    return journal, [alpha, bravo]


def _bravo_untouched(
    journal: JournalSnapshot, ledgers: list[VenueLedger], **close: object
) -> tuple[JournalSnapshot, list[VenueLedger]]:
    """The same world where nothing was sold on bravo (it still holds its 1 BTC)."""
    alpha, bravo = ledgers
    fields: dict[str, object] = {"requested_qty": D(3), "filled_qty": D(3), "request": WHOLE}
    fields.update(close)
    journal = replace(
        journal,
        closes=[_close(**fields)],
        attempts=journal.attempts[:1],
        fills=journal.fills[:1],
    )
    return journal, [alpha, replace(bravo, orders=[], trades=[], balances={"BTC": D(1)})]


def test_a_whole_close_that_sold_everything_is_consistent() -> None:
    journal, ledgers = _whole()
    assert check(journal, ledgers) == []
    assert "position" in INVARIANTS


def test_a_flat_whole_close_that_left_a_venue_holding_is_found() -> None:
    journal, ledgers = _bravo_untouched(*_whole())
    violations = check(journal, ledgers)
    assert {v.invariant for v in violations} == {"position"}
    details = _details(violations)
    assert "close cl_1: FLAT with holdings left unsold (bravo 1)" in details
    assert any("asks for 3, the known holdings (alpha 3, bravo 1) make 4" in d for d in details)
    assert any("residual 0 journaled" in d and "bravo 1" in d for d in details)


def test_unknown_holdings_make_a_whole_close_stranded_and_named() -> None:
    journal, ledgers = _whole()
    unknown = replace(
        journal, holdings={"cl_1": [_holding("alpha", D(3)), _holding("bravo", None)]}
    )
    named = "holdings unknown on bravo: RateLimited: 429"
    # STRANDED with nothing left is the right outcome when holdings are unknown
    stranded, venues = _bravo_untouched(unknown, ledgers, outcome="STRANDED", outcome_reason=named)
    assert check(stranded, venues) == []
    # ... and only then: known holdings, all sold, are FLAT, not STRANDED
    sold_out = replace(journal, closes=[replace(journal.closes[0], outcome="STRANDED")])
    details = _details(check(sold_out, ledgers), "outcome")
    assert details == ["close cl_1: STRANDED with filled 4, hedged 0, residual 0"]
    # the unknown venue not named
    quiet, venues = _bravo_untouched(
        unknown, ledgers, outcome="STRANDED", outcome_reason="spot: sold"
    )
    assert _details(check(quiet, venues)) == [
        "close cl_1: STRANDED with holdings unknown on bravo (bravo not named)"
    ]
    # a close that calls itself FLAT with holdings unknown
    flat, venues = _bravo_untouched(unknown, ledgers, outcome="FLAT", outcome_reason="sold")
    assert _details(check(flat, venues)) == [
        "close cl_1: FLAT with holdings unknown on bravo (bravo not named)"
    ]


def test_a_residual_the_venues_do_not_make_is_found() -> None:
    journal, (alpha, bravo) = _whole()
    partial = replace(bravo, trades=[_trade(20, 1, D("0.6"))], balances={"BTC": D("0.4")})
    stranded = replace(
        journal,
        closes=[
            _close(
                requested_qty=D(4),
                filled_qty=D("3.6"),
                outcome="STRANDED",
                residual_qty=D("0.3"),
                request=WHOLE,
            )
        ],
        fills=[journal.fills[0], replace(_fill(20, D("0.6"), "c2"), venue="bravo")],
    )
    details = _details(check(stranded, [alpha, partial]))
    assert details == [
        "close cl_1: residual 0.3 journaled, the venues' residuals (bravo 0.4) and "
        "0 unattributed make 0.4"
    ]
    right = replace(stranded, closes=[replace(stranded.closes[0], residual_qty=D("0.4"))])
    assert check(right, [alpha, partial]) == []


def _hedged_for_bravo(shorted: Decimal, covers: str) -> tuple[JournalSnapshot, list[VenueLedger]]:
    """alpha sold its 3; bravo could not sell its 1, shorted on alpha's perpetual."""
    journal, ledgers = _bravo_untouched(
        *_whole(), requested_qty=D(4), outcome="HEDGED", hedged_qty=shorted
    )
    alpha, bravo = ledgers
    short, short_trade = _perp(2, "h1", shorted)
    hedge = {
        "id": 1,
        "close_id": "cl_1",
        "venue": "alpha",
        "quantity": shorted,
        "unwound_qty": D(0),
        "covers_json": covers,
    }
    journal = replace(
        journal,
        attempts=[*journal.attempts, _attempt("h1", shorted, purpose="hedge", market="linear")],
        fills=[*journal.fills, replace(_fill(20, shorted, "h1"), market="linear")],
        hedges=[hedge],
        holdings={"cl_1": [_holding("alpha", D(3)), _holding("bravo", D(1), stuck=True)]},
    )
    alpha = replace(alpha, orders=[*alpha.orders, short], trades=[*alpha.trades, short_trade])
    return journal, [alpha, bravo]


def test_a_hedge_is_attributed_to_the_holdings_it_covers() -> None:
    assert check(*_hedged_for_bravo(D(1), '{"bravo": "1"}')) == []


def test_hedge_rows_covering_the_wrong_venue_are_found() -> None:
    details = _details(check(*_hedged_for_bravo(D(1), '{"alpha": "1"}')))
    assert details == [
        "close cl_1: its hedge rows cover alpha 1, the venues' figures attribute bravo 1"
    ]


def test_a_hedge_beyond_the_holdings_is_not_attributed_and_is_found() -> None:
    violations = check(*_hedged_for_bravo(D("1.5"), '{"bravo": "1"}'))
    details = _details(violations)
    assert (
        "close cl_1: the venues show 1.5 shorted for it, 1 is attributed to venues' holdings"
        in details
    )
    assert "oversell" in {v.invariant for v in violations}


def test_a_hedge_for_holdings_never_known_is_attributed_to_no_venue() -> None:
    """The shape of storm seeds 28 and 104: an explicit quantity beyond the known
    holdings, the rest (held on a venue whose holdings stayed unknown) hedged; the
    close says nothing is left, its per-venue figures call the hedged part residual."""
    journal, ledgers = _hedged_for_bravo(D(1), "{}")
    explicit = replace(
        journal,
        closes=[replace(journal.closes[0], request={"quantity": "4"})],
        holdings={"cl_1": [_holding("alpha", D(3)), _holding("bravo", None)]},
    )
    assert _details(check(explicit, ledgers)) == [
        "close cl_1: the venues show 1 shorted for it, 0 is attributed to venues' holdings",
        "close cl_1: residual 0 journaled, the venues' residuals (none) and 1 unattributed make 1",
    ]


def test_a_missing_row_and_a_holding_the_venue_never_had_are_found() -> None:
    journal, ledgers = _whole()
    rows = {"cl_1": [_holding("alpha", D("2.5"))]}
    details = _details(check(replace(journal, holdings=rows), ledgers))
    assert "close cl_1: no holdings row for bravo" in details
    assert "close cl_1: alpha journaled as holding 2.5 BTC, its ledger held 3 at the start" in (
        details
    )


# ---------------------------------------------------------------- real closes

STAGES = [{"at_s": 0, "depth": 1, "spread_bps": 2}]
HELD = {"alpha": D(6), "bravo": D(4), "charlie": D(3)}


def _all(**fields: object) -> CloseRequest:
    values: dict[str, object] = {
        "symbol": "BTC",
        "side": "sell",
        "quantity": "all",
        "urgency": "0.9",
        "idempotency_key": "whole-1",
    }
    values.update(fields)
    return CloseRequest.model_validate(values)


async def test_markets_that_load_late_join_a_whole_close(tmp_path: Path) -> None:
    """alpha's exchangeInfo answers 429 for the first 1.5 s: its markets are loaded
    again in the background, its holdings read once they are, and the close takes
    them in."""
    throttled = FaultSpec(kind="rate_limit", endpoint=MARKETS_ENDPOINT, end_s=D("1.5"))
    async with AsyncExitStack() as stack:
        world = await build_world(
            stack,
            three_venues(STAGES),
            tls_dir=tmp_path,
            journal_url=f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}",
            at_load={"alpha": [throttled]},
        )
        assert not world.adapters["alpha"].loaded
        result = await world.engine.close(_all())
        assert world.adapters["alpha"].loaded
        assert result.outcome == "FLAT", result.reason
        assert result.requested == sum(HELD.values())
        rows = {h.venue: h.held for h in await holdings(world.journal, result.close_id)}
        assert rows == HELD
        assert await world.violations() == []


async def test_markets_that_never_load_leave_a_whole_close_stranded_and_named(
    tmp_path: Path,
) -> None:
    banned = FaultSpec(kind="ip_ban", endpoint=MARKETS_ENDPOINT, end_s=D(600))
    async with AsyncExitStack() as stack:
        world = await build_world(
            stack,
            three_venues(STAGES),
            tls_dir=tmp_path,
            journal_url=f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}",
            at_load={"alpha": [banned]},
        )
        result = await world.engine.close(_all(allow_hedge=False))
        assert result.outcome == "STRANDED"
        assert result.reason is not None
        assert "holdings unknown on alpha" in result.reason
        assert result.requested == result.filled == HELD["bravo"] + HELD["charlie"]
        assert await world.violations() == []


@pytest.mark.parametrize("seed", [3, 5, 6])
async def test_storms_with_read_faults_at_the_start_keep_every_invariant(
    seed: int, tmp_path: Path
) -> None:
    plan = plan_storm(seed)
    assert plan.request["quantity"] == "all"
    assert any(plan.start.values())
    report = await run_storm(seed, tmp_path)
    assert report.outcome in ("FLAT", "HEDGED", "STRANDED")
    assert report.violations == []


# ---------------------------------------------------------------- storm draws


def _starts_at_once(spec: FaultSpec) -> bool:
    return (
        spec.kind in START_KINDS
        and spec.endpoint in START_ENDPOINTS
        and spec.start_s == 0
        and spec.probability > 0
        and (spec.end_s is None or spec.end_s > 0)
    )


def test_storms_draw_read_faults_at_the_start_and_whole_closes_often() -> None:
    plans = [plan_storm(seed) for seed in range(100)]
    start = [p for p in plans if any(_starts_at_once(f) for fs in p.start.values() for f in fs)]
    whole = [p for p in plans if p.request["quantity"] == "all"]
    assert len(start) >= 20
    assert len(whole) >= 50
    drawn = [f for p in start for fs in p.start.values() for f in fs]
    assert {f.kind for f in drawn} == set(START_KINDS)
    assert {f.endpoint for f in drawn} == set(START_ENDPOINTS)
    # the markets' faults are in place while the world loads them, the others from
    # the close's start on
    loading = next(p for p in start if any(p.at_load().values()))
    assert all(f.endpoint == MARKETS_ENDPOINT for fs in loading.at_load().values() for f in fs)
    moved = [f for fs in loading.at_start(D("0.6")).values() for f in fs]
    assert all(f.start_s == D("0.6") and f.endpoint != MARKETS_ENDPOINT for f in moved)


def test_storm_draws_are_determined_by_the_seed_and_keep_earlier_draws() -> None:
    for seed in range(20):
        plan, again, before = plan_storm(seed), plan_storm(seed), plan_storm(seed, position=False)
        assert plan == again
        # the position mix is drawn last: without it a seed draws what it drew before
        assert (before.stages, before.faults, before.nonsense) == (
            plan.stages,
            plan.faults,
            plan.nonsense,
        )
        assert {**plan.request, "quantity": None} == {**before.request, "quantity": None}
        assert before.start == {}


def test_inventory_released_after_the_close_comes_off_the_covers() -> None:
    """``router hedge unwind --with-spot``: bravo's covered BTC sold after the close
    (``release`` orders of the close), the short bought back with it."""
    journal, (alpha, bravo) = _hedged_for_bravo(D(1), "{}")
    sale = _order(2, "r1", D("0.5"))
    back, back_trade = _perp(3, "u1", D("0.5"))
    released = replace(
        journal,
        attempts=[
            *journal.attempts,
            _attempt("r1", D("0.5"), purpose="release", venue="bravo"),
            _attempt("u1", D("0.5"), purpose="unwind", market="linear", hedge_id=1, side="buy"),
        ],
        fills=[
            *journal.fills,
            replace(_fill(21, D("0.5"), "r1"), venue="bravo"),
            replace(_fill(30, D("0.5"), "u1"), market="linear", side="buy"),
        ],
        hedges=[{**journal.hedges[0], "unwound_qty": D("0.5"), "covers_json": '{"bravo": "0.5"}'}],
    )
    alpha = replace(alpha, orders=[*alpha.orders, back], trades=[*alpha.trades, back_trade])
    bravo = replace(
        bravo, orders=[sale], trades=[_trade(21, 2, D("0.5"))], balances={"BTC": D("0.5")}
    )
    assert check(released, [alpha, bravo]) == []
    stale = replace(released, hedges=[{**released.hedges[0], "covers_json": '{"bravo": "1"}'}])
    assert _details(check(stale, [alpha, bravo])) == [
        "close cl_1: its hedge rows cover bravo 1, the venues' figures attribute bravo 0.5 "
        "(less what was released)"
    ]
