"""``GET /v1/closes/{id}/events``: a close's progress as server-sent events."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from tests.service.conftest import Api, close_body


async def read_events(response: Any, timeout_s: float = 30.0) -> list[tuple[str, dict[str, Any]]]:
    """The stream's events, until the server ends it."""
    events: list[tuple[str, dict[str, Any]]] = []
    kind = ""

    async def consume() -> None:
        nonlocal kind
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))

    await asyncio.wait_for(consume(), timeout_s)
    return events


async def test_stream_runs_to_the_outcome(api: Api) -> None:
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    close_id = accepted["close_id"]
    response = await api.get(f"/v1/closes/{close_id}/events")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = await read_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "close"
    assert "attempt" in kinds
    assert "fill" in kinds
    assert kinds[-1] == "outcome"
    assert kinds.count("outcome") == 1
    outcome = events[-1][1]
    assert outcome["close_id"] == close_id
    assert outcome["outcome"] == "FLAT"
    assert Decimal(outcome["filled"]) == Decimal(2)
    body = await api.finished(close_id)
    attempts = {a["client_order_id"] for kind, a in events if kind == "attempt"}
    assert attempts == {a["client_order_id"] for a in body["attempts"]}
    fills = sum(Decimal(f["quantity"]) for kind, f in events if kind == "fill")
    assert fills == sum(Decimal(f["quantity"]) for f in body["fills"])


async def test_stream_of_a_finished_close_ends_with_its_outcome(api: Api) -> None:
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await api.finished(accepted["close_id"])
    events = await read_events(await api.get(f"/v1/closes/{accepted['close_id']}/events"))
    assert events[-1][0] == "outcome"
    assert events[-1][1]["outcome"] == "FLAT"


async def test_unknown_close_is_404(api: Api) -> None:
    response = await api.get("/v1/closes/nope/events")
    assert response.status == 404
    assert (await response.json())["error"] == "unknown close"


async def test_needs_a_token(api: Api) -> None:
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await api.finished(accepted["close_id"])
    response = await api.client.get(f"/v1/closes/{accepted['close_id']}/events")
    assert response.status == 401


async def test_answers_conform_to_the_spec(api: Api) -> None:
    from tests.service.test_openapi import conforms

    path = "/v1/closes/{close_id}/events"
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await api.finished(accepted["close_id"])
    text = await conforms(await api.get(f"/v1/closes/{accepted['close_id']}/events"), path, "get")
    assert "event: outcome" in text
    await conforms(await api.get("/v1/closes/nope/events"), path, "get")
    await conforms(await api.client.get("/v1/closes/nope/events"), path, "get")
