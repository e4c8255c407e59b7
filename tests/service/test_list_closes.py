"""``GET /v1/closes``: newest first, keyset-paged, filtered, strict about its parameters."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.client import RouterApiError, RouterClient
from router.journal.records import NewClose
from tests.service.conftest import READ, Api, close_body

ZERO = Decimal(0)
KEYS = {
    "close_id",
    "idempotency_key",
    "symbol",
    "side",
    "state",
    "outcome",
    "requested",
    "hedged",
    "residual",
    "created_at",
    "finished_at",
}


async def journaled(api: Api, count: int, prefix: str = "listed") -> list[str]:
    """``count`` closes written straight to the journal; their ids, newest first."""
    views = []
    for index in range(count):
        view, created = await api.world.journal.create_close(
            NewClose(
                idempotency_key=f"{prefix}-{index}",
                symbol="BTC",
                side="sell",
                quantity=Decimal("0.5"),
                request={"quantity": "0.5"},
            )
        )
        assert created
        views.append(view)
    views.sort(key=lambda v: (v.created_at, v.id), reverse=True)
    return [v.id for v in views]


async def settle(api: Api) -> None:
    """State an outcome for the closes written straight to the journal: nothing was sold,
    so each is STRANDED with all of it left (the world's invariants hold)."""
    journal = api.world.journal
    for close in await journal.unfinished_closes():
        await journal.finish_close(
            close.id,
            "STRANDED",
            filled_qty=ZERO,
            hedged_qty=ZERO,
            residual_qty=close.requested_qty,
            reason="written by the test",
        )


async def listing(api: Api, query: str = "") -> dict[str, Any]:
    response = await api.get(f"/v1/closes{query}")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    assert set(body) == {"closes", "next"}
    return body


async def every_page(api: Api, query: str) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        after = "" if cursor is None else f"&after={cursor}"
        page = await listing(api, f"{query}{after}")
        seen += [c["close_id"] for c in page["closes"]]
        cursor = page["next"]
        if cursor is None:
            return seen
    raise AssertionError("paging never ended")


async def test_pages_through_more_closes_than_one_page(api: Api) -> None:
    expected = await journaled(api, 8)
    first = await listing(api, "?limit=3")
    assert [c["close_id"] for c in first["closes"]] == expected[:3]
    assert isinstance(first["next"], str)
    assert await every_page(api, "?limit=3") == expected
    assert await every_page(api, "?limit=8") == expected
    whole = await listing(api, "?limit=500")
    assert [c["close_id"] for c in whole["closes"]] == expected
    assert whole["next"] is None
    await settle(api)


async def test_default_page_is_a_hundred(api: Api) -> None:
    expected = await journaled(api, 103)
    page = await listing(api)
    assert [c["close_id"] for c in page["closes"]] == expected[:100]
    rest = await listing(api, f"?after={page['next']}")
    assert [c["close_id"] for c in rest["closes"]] == expected[100:]
    assert rest["next"] is None
    await settle(api)


async def test_a_finished_close_as_listed(api: Api) -> None:
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    await api.finished(accepted["close_id"])
    [listed] = (await listing(api))["closes"]
    assert set(listed) == KEYS
    assert listed["close_id"] == accepted["close_id"]
    assert listed["idempotency_key"] == "api-close-1"
    assert (listed["symbol"], listed["side"]) == ("BTC", "sell")
    assert (listed["state"], listed["outcome"]) == ("DONE", "FLAT")
    assert (listed["requested"], listed["hedged"], listed["residual"]) == ("2", "0", "0")
    created = datetime.fromisoformat(listed["created_at"])
    assert created.tzinfo is not None
    assert datetime.fromisoformat(listed["finished_at"]) >= created


async def test_filters(api: Api) -> None:
    ids = await journaled(api, 5)
    journal = api.world.journal
    await journal.finish_close(
        ids[3],
        "STRANDED",
        filled_qty=ZERO,
        hedged_qty=ZERO,
        residual_qty=Decimal("0.5"),
        reason="nothing sold",
    )
    await journal.update_close(ids[2], state="RUNNING")
    accepted = await (await api.post("/v1/closes", json=close_body())).json()
    real = (await api.finished(accepted["close_id"]))["close_id"]

    def listed(body: dict[str, Any]) -> list[str]:
        return [c["close_id"] for c in body["closes"]]

    assert listed(await listing(api)) == [real, *ids]
    assert listed(await listing(api, "?state=DONE")) == [real, ids[3]]
    assert listed(await listing(api, "?outcome=STRANDED")) == [ids[3]]
    assert listed(await listing(api, "?outcome=FLAT")) == [real]
    assert listed(await listing(api, "?state=DONE&outcome=FLAT")) == [real]
    assert listed(await listing(api, "?state=RUNNING")) == [ids[2]]
    assert listed(await listing(api, "?state=ACCEPTED")) == [ids[0], ids[1], ids[4]]
    assert listed(await listing(api, "?outcome=HEDGED")) == []
    assert await every_page(api, "?state=ACCEPTED&limit=1") == [ids[0], ids[1], ids[4]]

    middle = (await journal.get_close(ids[2])).created_at  # type: ignore[union-attr]
    newer = [real, ids[0], ids[1], ids[2]]
    utc = middle.isoformat().replace("+00:00", "Z")
    assert listed(await listing(api, f"?since={utc}")) == newer
    shifted = middle.astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert listed(await listing(api, f"?since={quote(shifted, safe='')}")) == newer
    plus = middle.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert "+02:00" in plus
    # an unencoded "+" arrives as a space: still read as the offset it was
    assert listed(await listing(api, f"?since={plus}")) == newer
    assert listed(await listing(api, "?since=2999-01-01T00:00:00Z")) == []
    await settle(api)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=done", "state"),
        ("state=BOGUS", "state"),
        ("state=", "state"),
        ("outcome=MAYBE", "outcome"),
        ("outcome=ERROR", "outcome"),
        ("since=2020-03-12", "since"),
        ("since=2020-03-12T10:00:00", "since"),
        ("since=yesterday", "since"),
        ("since=2020-13-40T10:00:00Z", "since"),
        ("since=2020-03-12T10:00:00%2B25:00", "since"),
        ("since=%EF%BC%92020-03-12T10:00:00Z", "since"),
        ("since=2020-03-12T10:00:00Z%0A", "since"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=01", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=abc", "limit"),
        ("limit=%205", "limit"),
        ("limit=5%0A", "limit"),
        ("limit=%D9%A1", "limit"),
        ("limit=1&limit=2", "limit"),
        ("after=!!!", "after"),
        ("after=bm90IGEgY3Vyc29y", "after"),
        ("after=", "after"),
        ("status=DONE", "query"),
    ],
)
async def test_bad_parameters_are_422_naming_them(api: Api, query: str, field: str) -> None:
    response = await api.get(f"/v1/closes?{query}")
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "invalid request"
    assert [f["field"] for f in body["fields"]] == [field]
    value = query.split("=", 1)[1]
    if len(value) > 3:
        assert value not in await response.text()


async def test_listing_needs_a_read_token(api: Api) -> None:
    assert (await api.client.get("/v1/closes")).status == 401
    assert (await api.get("/v1/closes")).status == 200


async def test_client_pages_and_filters(api: Api) -> None:
    ids = await journaled(api, 5)
    middle = (await api.world.journal.get_close(ids[2])).created_at  # type: ignore[union-attr]
    async with RouterClient(str(api.client.make_url("")), READ) as client:
        seen: list[str] = []
        after = None
        while True:
            page = await client.closes(limit=2, after=after)
            seen += [c["close_id"] for c in page["closes"]]
            after = page["next"]
            if after is None:
                break
        assert seen == ids
        east = middle.astimezone(timezone(timedelta(hours=3)))
        recent = await client.closes(since=east, state="ACCEPTED")
        assert [c["close_id"] for c in recent["closes"]] == ids[:3]
        assert (await client.closes(since=east.isoformat()))["closes"] == recent["closes"]
        with pytest.raises(RouterApiError) as refused:
            await client.closes(limit=0)
        assert refused.value.status == 422
        with pytest.raises(ValueError, match="timezone-aware"):
            await client.closes(since=datetime(2024, 5, 1))
    await settle(api)


async def test_router_closes_command(api: Api) -> None:
    ids = await journaled(api, 3)
    url = str(api.client.make_url("")).rstrip("/")
    env = {"ROUTER_API_URL": url, "ROUTER_API_TOKEN": READ, "COLUMNS": "200"}
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["closes", *args], env=env)

    shown = await asyncio.to_thread(run, "--json", "--limit", "2")
    assert shown.exit_code == 0, shown.output
    page = json.loads(shown.output)
    assert [c["close_id"] for c in page["closes"]] == ids[:2]
    rest = await asyncio.to_thread(run, "--json", "--after", page["next"])
    assert [c["close_id"] for c in json.loads(rest.output)["closes"]] == ids[2:]

    table = await asyncio.to_thread(run, "--state", "ACCEPTED", "--limit", "2")
    assert table.exit_code == 0, table.output
    assert ids[0] in table.output
    assert ids[1] in table.output
    assert f"router closes --after {page['next']}" in table.output

    bad = await asyncio.to_thread(run, "--since", "yesterday")
    assert bad.exit_code == 2
    assert "422 invalid request (since:" in bad.output
    assert READ not in bad.output
    await settle(api)
