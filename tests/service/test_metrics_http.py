"""``/metrics`` through the real server: orders counted when sent (unwinds too), the
running-closes and open-hedges gauges, HTTP request metrics by route template, and
time to flat on the wall clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.sim.scenario import Scenario
from tests.engine.test_close import EXHAUSTION
from tests.service.conftest import Api, close_body

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(api: Api) -> Samples:
    response = await api.get("/metrics")
    assert response.status == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples carrying ``labels`` (others free)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def hold_orders(api: Api) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold every order at the venue door until ``release`` is set; ``reached`` is set
    when the first order gets there (after the engine has sent it)."""
    reached, release = asyncio.Event(), asyncio.Event()
    for adapter in api.world.adapters.values():
        place: Callable[..., Awaitable[Any]] = adapter.place_order

        async def held(*args: Any, place: Callable[..., Awaitable[Any]] = place, **kw: Any) -> Any:
            reached.set()
            await release.wait()
            return await place(*args, **kw)

        adapter.place_order = held  # type: ignore[method-assign]
    return reached, release


async def test_orders_are_counted_when_sent_while_the_close_runs(api: Api) -> None:
    reached, release = hold_orders(api)
    before = await scrape(api)
    assert value(before, "router_closes_running") == 0
    assert total(before, "router_orders_sent_total") == 0
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await asyncio.wait_for(reached.wait(), 30)

    during = await scrape(api)
    assert value(during, "router_closes_running") == 1
    sent = total(during, "router_orders_sent_total", purpose="close")
    assert sent >= 1
    assert total(during, "router_order_results_total") == 0
    assert total(during, "router_closes_total") == 0
    assert total(during, "router_time_to_flat_seconds_count") == 0

    release.set()
    result = await api.finished(accepted["close_id"])
    after = await scrape(api)
    assert value(after, "router_closes_running") == 0
    assert value(after, "router_closes_total", outcome=result["outcome"]) == 1
    attempts = [a for a in result["attempts"] if a["purpose"] == "close"]
    assert total(after, "router_orders_sent_total", purpose="close") == len(attempts)
    for attempt in attempts:
        assert total(after, "router_orders_sent_total", venue=attempt["venue"]) >= 1
    assert total(after, "router_order_results_total", purpose="close") == len(attempts)
    by_result: dict[str, int] = {}
    for attempt in attempts:
        by_result[attempt["state"]] = by_result.get(attempt["state"], 0) + 1
    for state, count in by_result.items():
        assert total(after, "router_order_results_total", result=state) == count


@pytest.mark.parametrize("scenario", [EXHAUSTION], ids=["exhaustion"])
async def test_hedges_gauge_and_unwind_orders(api: Api, scenario: Scenario) -> None:
    body = close_body(quantity="12", unrealized_pnl="-0.12", deadline_s="120")
    accepted = await (await api.post("/v1/closes", json=body)).json()
    result = await api.finished(accepted["close_id"])
    assert result["outcome"] == "HEDGED"
    hedges = (await (await api.get("/v1/hedges?open=true")).json())["hedges"]
    hedged = await scrape(api)
    assert value(hedged, "router_hedges_open") == len(hedges) > 0
    legs = [a for a in result["attempts"] if a["purpose"] == "hedge"]
    assert total(hedged, "router_orders_sent_total", purpose="hedge") == len(legs)
    assert total(hedged, "router_orders_sent_total", purpose="unwind") == 0

    api.world.clock.advance(Decimal(700))
    api.world.cluster.step()
    for hedge in hedges:
        response = await api.post(f"/v1/hedges/{hedge['id']}/unwind")
        assert response.status == 200
    unwound = await scrape(api)
    assert value(unwound, "router_hedges_open") == 0
    for hedge in hedges:
        assert total(unwound, "router_orders_sent_total", venue=hedge["venue"], purpose="unwind")
        assert total(unwound, "router_order_results_total", purpose="unwind", result="FILLED")


async def test_http_requests_are_counted_by_route_template(api: Api) -> None:
    for close_id in ("cl_" + "1" * 24, "cl_" + "2" * 24):
        assert (await api.get(f"/v1/closes/{close_id}")).status == 404
    assert (
        await api.get("/v1/closes/cl_" + "3" * 24, token="wrong-token-0123456789")
    ).status == 401
    assert (await api.get("/no/such/path/12345")).status == 404
    assert (await api.get("/healthz")).status == 200
    response = await api.get("/metrics")
    text = await response.text()
    assert "1" * 24 not in text
    assert "12345" not in text
    samples = await scrape(api)
    route = "/v1/closes/{close_id}"
    requests = "router_http_requests_total"
    assert value(samples, requests, method="GET", route=route, status="404") == 2
    assert value(samples, requests, method="GET", route=route, status="401") == 1
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert value(samples, requests, method="GET", route="/healthz", status="200") == 1
    assert value(samples, requests, method="GET", route="/metrics", status="200") == 1
    duration = "router_http_request_duration_seconds_count"
    assert value(samples, duration, method="GET", route=route) == 3


async def test_a_method_no_route_has_is_counted_unmatched(api: Api) -> None:
    for method in ("DELETE", "PATCH"):
        response = await api.client.request(method, "/healthz")
        assert response.status == 405
    samples = await scrape(api)
    requests = "router_http_requests_total"
    for method in ("DELETE", "PATCH"):
        assert value(samples, requests, method=method, route="unmatched", status="405") == 1


async def test_time_to_flat_is_wall_clock_time(api: Api) -> None:
    """The simulated clock jumps two hours during the close; the close itself takes far
    less than an hour of wall time, and that is what the histogram observes."""
    pause = api.world.engine.pacing.sleep
    jumped = asyncio.Event()

    async def fast(seconds: float) -> None:
        if not jumped.is_set():
            jumped.set()
            api.world.clock.advance(Decimal(7200))
        await pause(seconds)

    api.world.engine.pacing.sleep = fast
    started = api.world.clock.now()
    body = close_body(quantity="6", urgency="0.3", idempotency_key="wall-clock")
    accepted = await (await api.post("/v1/closes", json=body)).json()
    result = await api.finished(accepted["close_id"])
    assert jumped.is_set()
    assert api.world.clock.now() - started >= 7200
    samples = await scrape(api)
    outcome = result["outcome"]
    assert value(samples, "router_time_to_flat_seconds_count", outcome=outcome) == 1
    assert value(samples, "router_time_to_flat_seconds_bucket", outcome=outcome, le="3600.0") == 1
    assert value(samples, "router_time_to_flat_seconds_sum", outcome=outcome) < 3600


async def test_every_duration_names_its_clock(api: Api) -> None:
    text = await (await api.get("/metrics")).text()
    helps = [line for line in text.splitlines() if line.startswith("# HELP")]
    for line in helps:
        if "_seconds" in line.split()[2]:
            assert "Wall-clock seconds (monotonic)" in line, line


async def test_netting_is_the_internal_venue(api: Api) -> None:
    """Opposite closes at the same moment cross what they have in common: each close's
    side of the crossing is one order of the pseudo-venue ``internal``, purpose ``net``."""
    world = api.world
    seller, buyer = await asyncio.gather(
        world.engine.close(world.request(quantity="5")),
        world.engine.close(world.request(side="buy", quantity="3")),
    )
    assert seller.venues["internal"].filled == buyer.venues["internal"].filled == 3
    samples = await scrape(api)
    assert value(samples, "router_orders_sent_total", venue="internal", purpose="net") == 2
    assert (
        value(
            samples, "router_order_results_total", venue="internal", purpose="net", result="FILLED"
        )
        == 2
    )
    assert total(samples, "router_orders_sent_total", purpose="close") >= 1
