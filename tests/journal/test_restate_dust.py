"""A restated close follows the same outcome rule as a close finishing: dust below the
smallest perp lot left by a hedged close is HEDGED once nothing is in doubt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from router.core.orders import OrderState
from router.engine.recovery import settle_finished
from router.journal.repository import Journal, OutcomeUpdate
from tests.journal.test_recovery import T0, ScriptedVenue, _close_with_attempts

D = Decimal
S = OrderState


@pytest.fixture
async def journal(engine: AsyncEngine) -> AsyncIterator[Journal]:
    opened = Journal(engine, owner="crashed", clock=lambda: T0)
    yield opened
    await opened._writer.close()


async def _stranded_by_its_doubt(journal: Journal) -> str:
    """Of 3: 1 sold, 1 in doubt, 0.995 hedged: STRANDED while the doubt lasts."""
    close_id = await _close_with_attempts(
        journal, [("sold", "alpha", S.SENT), ("doubt", "alpha", S.UNKNOWN)]
    )
    await journal.record_outcome("sold", OutcomeUpdate(S.FILLED, filled_qty=D(1)))
    await journal.finish_close(
        close_id,
        "STRANDED",
        filled_qty=D(1),
        hedged_qty=D("0.995"),
        residual_qty=D("1.005"),
        reason="residual 1.005 not closed; 1 still in doubt; 0.995 hedged with a perp short",
    )
    return close_id


@pytest.mark.parametrize(
    ("perp_lot", "outcome"), [(D("0.01"), "HEDGED"), (D("0.001"), "STRANDED"), (None, "STRANDED")]
)
async def test_dust_left_once_the_doubt_settles_follows_the_outcome_rule(
    journal: Journal, perp_lot: Decimal | None, outcome: str
) -> None:
    close_id = await _stranded_by_its_doubt(journal)
    venue = ScriptedVenue()
    venue.place("doubt", S.FILLED, ["1"])
    [settled] = await settle_finished(journal, venue, perp_lot=lambda close: perp_lot)
    assert settled.outcome == outcome
    close = await journal.get_close(close_id)
    assert close is not None
    assert (close.outcome, close.filled_qty, close.residual_qty) == (outcome, D(2), D("0.005"))
