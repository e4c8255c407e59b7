"""``GET /readyz`` follows the venues' answers: 503 naming them when none answers (reads
that failed, or readiness's own probes), 200 again once one does; ``GET /v1/venues``
shows when each venue last answered and its last failure."""

from __future__ import annotations

from typing import Any

from router.sim.scenario import FaultSpec
from tests.service.conftest import Api
from tests.service.test_openapi import conforms

VENUES = ("alpha", "bravo", "charlie")


def _fail_all(api: Api, **fault: Any) -> None:
    for name in VENUES:
        api.world.venue(name).faults.add(FaultSpec(**fault))


def _heal_all(api: Api) -> None:
    for name in VENUES:
        api.world.venue(name).faults.clear()


async def _ready(api: Api, status: int) -> dict[str, Any]:
    response = await api.get("/readyz")
    body: dict[str, Any] = await conforms(response, "/readyz", "get")
    assert response.status == status, body
    return body


async def _venues(api: Api) -> dict[str, dict[str, Any]]:
    response = await api.get("/v1/venues")
    body = await conforms(response, "/v1/venues", "get")
    return {row["name"]: row for row in body["venues"]}


async def test_readiness_follows_failed_reads_and_probes(api: Api) -> None:
    ready = await _ready(api, 200)
    assert ready["checks"] == {"journal": True, "venues": True}
    assert set(ready["venues"]) == set(VENUES)
    assert all(v["answering"] and v["last_error"] is None for v in ready["venues"].values())

    _fail_all(api, kind="outage")
    liquidity = await (await api.get("/v1/liquidity/BTC")).json()
    assert {u["venue"] for u in liquidity["unavailable"]} == set(VENUES)
    rows = await _venues(api)
    for name in VENUES:
        row = rows[name]
        assert row["last_error"] is not None
        assert "fetch_order_book" in row["last_error"]
        assert row["last_error_age_s"] is not None
        assert row["last_answer_age_s"] is not None  # the markets' load, before the outage
        assert row["circuit"] == "open"  # a failed liquidity read counts against the venue

    ready = await _ready(api, 503)
    assert ready["checks"] == {"journal": True, "venues": False}
    for name in VENUES:
        venue = ready["venues"][name]
        assert venue["answering"] is False
        assert venue["last_error"] == rows[name]["last_error"]

    _heal_all(api)
    api.state.readiness.probe_after_s = 0  # probe at once rather than after a quiet spell
    ready = await _ready(api, 200)
    assert all(v["answering"] for v in ready["venues"].values())
    rows = await _venues(api)
    assert all(row["last_answer_age_s"] is not None for row in rows.values())


async def test_a_quiet_service_probes_its_venues(api: Api) -> None:
    """Nothing asked the venues since they went down: readiness asks them itself."""
    api.state.readiness.probe_after_s = 0
    _fail_all(api, kind="outage")
    ready = await _ready(api, 503)
    for name in VENUES:
        venue = ready["venues"][name]
        assert venue["answering"] is False
        assert "fetch_time" in venue["last_error"]
        assert api.world.venue(name).faults.injected["outage"] == 1  # one probe, no retry

    # a venue asked less than ``probe_after_s`` ago is not probed again
    api.state.readiness.probe_after_s = 3600
    await _ready(api, 503)
    assert all(api.world.venue(n).faults.injected["outage"] == 1 for n in VENUES)

    _heal_all(api)
    api.state.readiness.probe_after_s = 0
    ready = await _ready(api, 200)
    assert all(v["answering"] for v in ready["venues"].values())


async def test_a_probe_without_answer_is_bounded(api: Api) -> None:
    api.state.readiness.probe_after_s = 0
    api.state.readiness.probe_timeout_s = 0.2
    _fail_all(api, kind="latency", endpoint="GET */time", latency_ms=3000)
    ready = await _ready(api, 503)
    for name in VENUES:
        assert ready["venues"][name]["last_error"] == (f"{name}: no answer to a probe within 0.2 s")


async def test_one_answering_venue_is_enough(api: Api) -> None:
    api.state.readiness.probe_after_s = 0
    for name in ("alpha", "bravo"):
        api.world.venue(name).faults.add(FaultSpec(kind="outage"))
    ready = await _ready(api, 200)
    answering = {name for name, v in ready["venues"].items() if v["answering"]}
    assert answering == {"charlie"}
