"""``POST /v1/hedges/{hedge_id}/unwind`` keeps its contract (C3) through the real server.

One unwind of a hedge runs at a time (the others 409, no duplicate order); a closed hedge
is 409; a quantity above what is open or below the perpetual's smallest order is 422; a
venue's rejection is a 200 naming it, the hedge's state untouched; a hedge unwound
moments ago is 429 with ``Retry-After`` and no order; ids, quantities and the ``open``
flag are read in the strict grammar.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import quote

import pytest

from router.sim.scenario import FaultSpec, Scenario
from tests.engine.test_close import EXHAUSTION
from tests.service.conftest import TRADE, Api, close_body

D = Decimal
HOLD_S = 30.0
"""How long a held order waits for the refusals before the test gives up (a hang guard)."""
RUNNING = "an unwind of this hedge is already running"

pytestmark = pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])


class WallClock:
    """The engine's wall clock, moved by hand (the throttle's clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _hedge(api: Api) -> dict[str, Any]:
    """A close that ends hedged; its largest open hedge, with a wall clock set by hand."""
    body = close_body(quantity="12", unrealized_pnl="-0.12", deadline_s="120")
    accepted = await (await api.post("/v1/closes", json=body)).json()
    result = await api.finished(accepted["close_id"])
    assert result["outcome"] == "HEDGED", result
    hedges = (await (await api.get("/v1/hedges?open=true")).json())["hedges"]
    hedge: dict[str, Any] = max(hedges, key=lambda h: D(h["quantity"]))
    assert hedge["state"] == "OPEN"
    api.world.engine.pacing.wall = WallClock()
    return hedge


def _clock(api: Api) -> WallClock:
    clock = api.world.engine.pacing.wall
    assert isinstance(clock, WallClock)
    return clock


def _path(hedge: dict[str, Any]) -> str:
    return f"/v1/hedges/{hedge['id']}/unwind"


def _perp_orders(api: Api, hedge: dict[str, Any]) -> int:
    return len(api.world.venue(hedge["venue"]).orders["linear"])


def _lot(api: Api, hedge: dict[str, Any]) -> Decimal:
    return api.world.adapters[hedge["venue"]].market(hedge["symbol"]).lot_step


async def _row(api: Api, hedge: dict[str, Any]) -> dict[str, Any]:
    rows = (await (await api.get("/v1/hedges")).json())["hedges"]
    [row] = [r for r in rows if r["id"] == hedge["id"]]
    return dict(row)


async def test_concurrent_unwinds_one_runs_the_others_are_409(
    api: Api, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    hedge = await _hedge(api)
    adapter = api.world.adapters[hedge["venue"]]
    place = adapter.place_order
    refused = asyncio.Event()
    answers: list[tuple[int, dict[str, Any]]] = []

    async def held(*args: Any, **kwargs: Any) -> Any:
        """The running unwind's order waits until both other asks were answered."""
        await asyncio.wait_for(refused.wait(), HOLD_S)
        return await place(*args, **kwargs)

    monkeypatch.setattr(adapter, "place_order", held)
    before = _perp_orders(api, hedge)

    async def ask() -> None:
        response = await api.post(_path(hedge))
        answers.append((response.status, await response.json()))
        if sum(1 for status, _ in answers if status == 409) == 2:
            refused.set()

    await asyncio.gather(ask(), ask(), ask())
    assert sorted(status for status, _ in answers) == [200, 409, 409], answers
    for status, body in answers:
        if status == 409:
            assert body["error"] == RUNNING
    [done] = [body for status, body in answers if status == 200]
    assert D(done["unwound"]) == D(hedge["quantity"])
    assert (D(done["open"]), done["state"], done["reason"]) == (0, "CLOSED", None)
    assert _perp_orders(api, hedge) == before + 1
    attempts = await api.world.journal.attempts(hedge["close_id"])
    ids = [a.client_order_id for a in attempts]
    assert len(ids) == len(set(ids))
    assert [a.purpose for a in attempts].count("unwind") == 1


async def test_a_closed_hedge_is_409(api: Api, scenario: Scenario) -> None:
    hedge = await _hedge(api)
    assert (await api.post(_path(hedge))).status == 200
    orders = _perp_orders(api, hedge)
    again = await api.post(_path(hedge))
    assert again.status == 409
    assert (await again.json())["error"] == "hedge is closed"
    assert _perp_orders(api, hedge) == orders


async def test_more_than_is_open_is_422_and_nothing_changes(api: Api, scenario: Scenario) -> None:
    hedge = await _hedge(api)
    orders = _perp_orders(api, hedge)
    too_much = str(D(hedge["quantity"]) + _lot(api, hedge))
    response = await api.post(_path(hedge), json={"quantity": too_much})
    assert response.status == 422
    [field] = (await response.json())["fields"]
    assert field["field"] == "quantity"
    assert "larger than what is open" in field["message"]
    assert too_much not in field["message"]
    assert _perp_orders(api, hedge) == orders
    assert (await _row(api, hedge))["state"] == "OPEN"


async def test_less_than_the_smallest_order_is_422(api: Api, scenario: Scenario) -> None:
    """Below the minimum quantity, or one lot worth less than the minimum order value."""
    hedge = await _hedge(api)
    market = api.world.adapters[hedge["venue"]].market(hedge["symbol"])
    ask = api.world.venue(hedge["venue"]).markets["linear"].book.asks.levels()[0][0]
    assert market.lot_step * ask < market.min_notional
    orders = _perp_orders(api, hedge)
    for below in (max(market.min_qty, market.lot_step) / 10, market.lot_step):
        response = await api.post(_path(hedge), json={"quantity": format(below, "f")})
        assert response.status == 422, below
        [field] = (await response.json())["fields"]
        assert field["field"] == "quantity"
        assert "smallest order" in field["message"]
    assert _perp_orders(api, hedge) == orders
    assert (await _row(api, hedge))["state"] == "OPEN"
    allowed = await api.post(_path(hedge), json={"quantity": format(market.lot_step * 1000, "f")})
    assert allowed.status == 200


async def test_a_venue_rejection_is_named_and_the_hedge_stays_open(
    api: Api, scenario: Scenario
) -> None:
    hedge = await _hedge(api)
    venue = api.world.venue(hedge["venue"])
    venue.faults.add(FaultSpec(kind="insufficient_balance", endpoint="POST /fapi/v1/order"))
    orders = _perp_orders(api, hedge)
    response = await api.post(_path(hedge))
    assert response.status == 200
    body = await response.json()
    assert D(body["unwound"]) == 0
    assert D(body["open"]) == D(hedge["quantity"])
    assert body["state"] == "OPEN"
    assert body["reason"].startswith(f"{hedge['venue']} rejected the order: ")
    assert _perp_orders(api, hedge) == orders
    row = await _row(api, hedge)
    assert (row["state"], D(row["unwound_qty"])) == ("OPEN", 0)


async def test_an_unwind_moments_after_the_last_is_429_with_retry_after(
    api: Api, scenario: Scenario
) -> None:
    hedge = await _hedge(api)
    clock = _clock(api)
    half = (D(hedge["quantity"]) / 2 / _lot(api, hedge)).to_integral_value(ROUND_DOWN)
    part = half * _lot(api, hedge)
    first = await api.post(_path(hedge), json={"quantity": format(part, "f")})
    assert first.status == 200
    body = await first.json()
    assert (D(body["unwound"]), body["state"]) == (part, "UNWINDING")
    assert D(body["open"]) == D(hedge["quantity"]) - part
    orders = _perp_orders(api, hedge)
    clock.now += 2
    throttled = await api.post(_path(hedge))
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "3"
    refusal = await throttled.json()
    assert refusal["retry_after_s"] == 3
    assert "ask again in 3 s" in refusal["error"]
    assert _perp_orders(api, hedge) == orders
    assert (await _row(api, hedge))["state"] == "UNWINDING"
    clock.now += 3
    rest = await api.post(_path(hedge))
    assert rest.status == 200
    assert (await rest.json())["state"] == "CLOSED"
    assert _perp_orders(api, hedge) == orders + 1


async def test_a_rejected_unwind_counts_for_the_throttle(api: Api, scenario: Scenario) -> None:
    """Retrying a refused order as fast as one can is what the throttle stops."""
    hedge = await _hedge(api)
    venue = api.world.venue(hedge["venue"])
    venue.faults.add(FaultSpec(kind="insufficient_balance", endpoint="POST /fapi/v1/order"))
    assert (await api.post(_path(hedge))).status == 200
    orders = _perp_orders(api, hedge)
    for _ in range(3):
        assert (await api.post(_path(hedge))).status == 429
    assert _perp_orders(api, hedge) == orders


@pytest.mark.parametrize(
    "hedge_id", ["١", "１", "1_0", " 1", "1 ", "+1", "01", "0", "-1", "1e0", "1.0", "9" * 19]
)
async def test_hedge_ids_outside_the_grammar_are_422(
    api: Api, scenario: Scenario, hedge_id: str
) -> None:
    response = await api.post(f"/v1/hedges/{quote(hedge_id, safe='')}/unwind")
    assert response.status == 422
    [field] = (await response.json())["fields"]
    assert field["field"] == "hedge_id"
    assert hedge_id not in field["message"]
    assert api.orders_on_venues() == 0


BAD_QUANTITIES: list[Any] = [
    1,
    0.5,
    "1_0",
    "１",
    "١",
    " 0.001",
    "0.001 ",
    "0.001\n",
    "+0.001",
    "1e-3",
    "0",
    "0.0",
    "-0.001",
    "NaN",
    "Infinity",
    "1" * 400,
    True,
    None,
]


async def test_unwind_quantities_outside_the_grammar_are_422(api: Api, scenario: Scenario) -> None:
    hedge = await _hedge(api)
    orders = _perp_orders(api, hedge)
    for quantity in BAD_QUANTITIES:
        response = await api.post(_path(hedge), json={"quantity": quantity})
        assert response.status == 422, quantity
        [field] = (await response.json())["fields"]
        assert field["field"] == "quantity", quantity
        assert "1" * 40 not in field["message"], "a whole input is echoed"
    assert _perp_orders(api, hedge) == orders
    assert (await _row(api, hedge))["state"] == "OPEN"


@pytest.mark.parametrize("flag", ["true", "1", "false", "0"])
async def test_the_open_flag_accepts_exactly_four_spellings(
    api: Api, scenario: Scenario, flag: str
) -> None:
    response = await api.get(f"/v1/hedges?open={flag}")
    assert response.status == 200
    assert (await response.json())["hedges"] == []


@pytest.mark.parametrize("flag", ["yes", "TRUE", "True", "0.41", "", "true%0A", "on", "2"])
async def test_other_open_flags_are_422(api: Api, scenario: Scenario, flag: str) -> None:
    response = await api.get(f"/v1/hedges?open={flag}")
    assert response.status == 422
    [field] = (await response.json())["fields"]
    assert field["field"] == "open"


async def test_open_false_lists_closed_hedges_too(api: Api, scenario: Scenario) -> None:
    hedge = await _hedge(api)
    assert (await api.post(_path(hedge))).status == 200
    listed = {h["id"] for h in (await (await api.get("/v1/hedges?open=0")).json())["hedges"]}
    still_open = {h["id"] for h in (await (await api.get("/v1/hedges?open=1")).json())["hedges"]}
    assert hedge["id"] in listed
    assert hedge["id"] not in still_open


async def _router(api: Api, *args: str) -> tuple[int, str, str]:
    """``router ARGS`` against the test server, while this loop keeps serving it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "router.cli",
        *args,
        "--url",
        str(api.client.make_url("")).rstrip("/"),
        "--token",
        TRADE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_shows_the_reason_and_the_state(api: Api, scenario: Scenario) -> None:
    hedge = await _hedge(api)
    venue = api.world.venue(hedge["venue"])
    fault = venue.faults.add(
        FaultSpec(kind="insufficient_balance", endpoint="POST /fapi/v1/order", count=1)
    )
    code, out, err = await _router(api, "hedge", "unwind", str(hedge["id"]))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == f"hedge {hedge['id']}: unwound 0, open {hedge['quantity']}, state OPEN"
    assert lines[1].startswith(f"reason: {hedge['venue']} rejected the order: ")
    assert fault.fired == 1
    code, out, err = await _router(api, "hedge", "unwind", str(hedge["id"]), "--json")
    assert code == 2
    assert err.strip().startswith("error: 429 this hedge was unwound less than 5 s ago")
    _clock(api).now += 5
    code, out, err = await _router(api, "hedge", "unwind", str(hedge["id"]), "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert (answer["state"], D(answer["open"]), answer["reason"]) == ("CLOSED", 0, None)
    code, out, err = await _router(api, "hedge", "unwind", str(hedge["id"]), "--quantity", "1_0")
    assert code == 2
    assert err.startswith("error: --quantity must be a decimal string")
