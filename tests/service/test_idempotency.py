"""An idempotency key names one request: the same request answers its close, a different
one is 409 — after the close, while it runs, and when both arrive at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from router.engine.request import CloseRequest
from router.journal.records import NewClose
from router.journal.repository import Journal, utc_now
from tests.service.conftest import Api, close_body

CONFLICT = "idempotency key already used for a different request"


async def _post(api: Api, **fields: Any) -> tuple[int, dict[str, Any]]:
    response = await api.post("/v1/closes", json=close_body(**fields))
    return response.status, await response.json()


async def test_a_new_close_is_202_not_existing(api: Api) -> None:
    status, body = await _post(api, idempotency_key="new-1")
    assert status == 202
    assert set(body) == {"close_id", "state", "idempotency_key", "existing"}
    assert body["existing"] is False
    assert body["idempotency_key"] == "new-1"
    await api.finished(body["close_id"])


async def test_the_same_request_again_is_200_existing_and_sends_nothing(api: Api) -> None:
    status, first = await _post(api, idempotency_key="same-1")
    assert status == 202
    await api.finished(first["close_id"])
    orders = api.orders_on_venues()
    status, again = await _post(api, idempotency_key="same-1")
    assert status == 200
    assert again == {
        "close_id": first["close_id"],
        "state": "DONE",
        "idempotency_key": "same-1",
        "existing": True,
    }
    assert api.orders_on_venues() == orders


@pytest.mark.parametrize(
    "spelling",
    [
        {"quantity": "2.0"},
        {"quantity": "2.000000000000000000"},
        {"urgency": "0.90"},
        {"symbol": "btc"},
        {"quote": "usdt"},
        {"danger": "0"},
        {"allow_hedge": True},
    ],
    ids=repr,
)
async def test_the_same_request_spelled_otherwise_is_the_same_request(
    api: Api, spelling: dict[str, Any]
) -> None:
    """Decimals compare by value, asset codes after upper-casing, defaults as given."""
    status, first = await _post(api, idempotency_key="spelled")
    assert status == 202
    await api.finished(first["close_id"])
    orders = api.orders_on_venues()
    status, again = await _post(api, idempotency_key="spelled", **spelling)
    assert status == 200, again
    assert again["close_id"] == first["close_id"]
    assert again["existing"] is True
    assert api.orders_on_venues() == orders


@pytest.mark.parametrize(
    "different",
    [
        {"quantity": "1"},
        {"side": "buy", "quantity": "5"},
        {"urgency": "0.5"},
        {"quantity": "all"},
        {"reason": "another reason"},
        {"allow_hedge": False},
        {"venues": ["alpha"]},
        {"max_slippage": "0.05"},
    ],
    ids=repr,
)
async def test_a_different_request_under_a_used_key_is_409_and_sends_nothing(
    api: Api, different: dict[str, Any]
) -> None:
    status, first = await _post(api, idempotency_key="used-1")
    assert status == 202
    await api.finished(first["close_id"])
    orders = api.orders_on_venues()
    status, refused = await _post(api, idempotency_key="used-1", **different)
    assert status == 409
    assert refused == {
        "error": CONFLICT,
        "idempotency_key": "used-1",
        "close_id": first["close_id"],
    }
    assert api.orders_on_venues() == orders
    closed = await api.get(f"/v1/closes/{first['close_id']}")
    assert Decimal((await closed.json())["requested"]) == Decimal(2)


async def test_a_different_request_while_the_first_is_being_started_is_409(api: Api) -> None:
    """The first close is held before the engine journals it: the key is in flight, with
    no close id yet; the same request joins it, a different one is refused."""
    gate = asyncio.Event()
    real = api.state.engine.close

    async def held(request: CloseRequest, **kwargs: Any) -> Any:
        await gate.wait()
        return await real(request, **kwargs)

    api.state.engine.close = held  # type: ignore[method-assign]
    api.state.accept_timeout_s = 0.01
    status, first = await _post(api, idempotency_key="held-1", quantity="3")
    assert (status, first["close_id"], first["state"]) == (202, None, "PENDING")
    assert first["existing"] is False
    status, refused = await _post(api, idempotency_key="held-1", quantity="4")
    assert status == 409
    assert refused == {"error": CONFLICT, "idempotency_key": "held-1", "close_id": None}
    status, same = await _post(api, idempotency_key="held-1", quantity="3")
    assert (status, same["close_id"], same["existing"]) == (200, None, True)
    assert api.orders_on_venues() == 0
    gate.set()
    api.state.accept_timeout_s = 10.0
    status, journaled = await _post(api, idempotency_key="held-1", quantity="3")
    assert (status, journaled["existing"]) == (200, True)
    status, refused = await _post(api, idempotency_key="held-1", quantity="4")
    assert (status, refused["close_id"]) == (409, journaled["close_id"])
    body = await api.finished(journaled["close_id"])
    assert sum(Decimal(f["quantity"]) for f in body["fills"]) == Decimal(3)
    assert api.orders_on_venues() == len(body["attempts"])


async def test_ten_concurrent_posts_with_one_key_run_one_close(api: Api) -> None:
    quantities = ["1", "1", "1", "1.0", "2", "2", "0.5", "3", "0.25", "1.5"]
    responses = await asyncio.gather(
        *(
            api.post("/v1/closes", json=close_body(idempotency_key="storm", quantity=q))
            for q in quantities
        )
    )
    answers = [(r.status, await r.json()) for r in responses]
    started = [
        (q, body) for q, (status, body) in zip(quantities, answers, strict=True) if status == 202
    ]
    assert len(started) == 1, answers
    winner, accepted = started[0]
    assert accepted["existing"] is False
    for quantity, (status, body) in zip(quantities, answers, strict=True):
        if body is accepted:
            continue
        if Decimal(quantity) == Decimal(winner):
            assert status == 200, body
            assert body["existing"] is True
            assert body["close_id"] in (accepted["close_id"], None)
        else:
            assert status == 409, body
            assert body["error"] == CONFLICT
            assert body["close_id"] in (accepted["close_id"], None)
    close_id = accepted["close_id"]
    assert close_id is not None
    finished = await api.finished(close_id)
    assert Decimal(finished["requested"]) == Decimal(winner)
    assert sum(Decimal(f["quantity"]) for f in finished["fills"]) == Decimal(winner)
    # the venues saw the orders of this one close and no other
    assert api.orders_on_venues() == len(finished["attempts"])
    assert {a["client_order_id"] for a in finished["attempts"]} == {
        a.client_order_id for a in await api.world.journal.attempts(close_id)
    }


async def test_a_close_journaled_by_a_stopped_router_compares_with_its_journaled_request(
    api: Api,
) -> None:
    """A close this process never ran (journaled before a restart): the request is
    rebuilt from the journal as the keeper rebuilds it, and compared the same way."""
    request = CloseRequest.model_validate(close_body(idempotency_key="from-before"))
    journal = api.world.journal
    dead = Journal(
        journal.engine, owner="dead-router", clock=lambda: utc_now() - timedelta(minutes=5)
    )
    try:
        close, created = await dead.create_close(
            NewClose(
                idempotency_key=request.idempotency_key,
                symbol=request.symbol,
                side=request.side,
                quantity=Decimal(2),
                request=request.model_dump(mode="json"),
            )
        )
    finally:
        await dead._writer.close()
    assert created
    status, same = await _post(api, idempotency_key="from-before", quantity="2.0")
    assert (status, same["close_id"], same["existing"]) == (200, close.id, True)
    status, refused = await _post(api, idempotency_key="from-before", quantity="1")
    assert (status, refused["close_id"]) == (409, close.id)
    assert api.orders_on_venues() == 0
    assert not api.state.pending
    api.state.keep(0.05)
    body = await api.finished(close.id)
    assert sum(Decimal(f["quantity"]) for f in body["fills"]) == Decimal(2)


async def test_a_refused_close_leaves_its_key_unused(api: Api) -> None:
    status, _ = await _post(api, idempotency_key="refused-1", quantity="100000")
    assert status == 422
    status, accepted = await _post(api, idempotency_key="refused-1", quantity="1")
    assert status == 202
    assert accepted["existing"] is False
    await api.finished(accepted["close_id"])


async def test_each_accepted_close_is_logged_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="router.service.closes"):
        status, first = await _post(api, idempotency_key="logged-1", quantity="1.50")
        assert status == 202
        await api.finished(first["close_id"])
        await _post(api, idempotency_key="logged-1", quantity="1.5")
        await _post(api, idempotency_key="logged-1", quantity="1")
    lines = [r.getMessage() for r in caplog.records if r.name == "router.service.closes"]
    assert lines == [f"close {first['close_id']} accepted: key logged-1, sell 1.50 BTC/USDT"]


async def test_a_request_journaled_in_an_older_spelling_resumes_and_compares_by_value(
    api: Api,
) -> None:
    """Journals written before the strict grammar may hold ``str(Decimal)`` spellings
    such as ``"2E+0"``: the keeper still resumes the close, and the same request posted
    again is still the same request."""
    request = CloseRequest.model_validate(close_body(idempotency_key="older-spelling"))
    stored = {**request.model_dump(mode="json"), "quantity": "2E+0", "urgency": "9E-1"}
    journal = api.world.journal
    dead = Journal(
        journal.engine, owner="dead-router", clock=lambda: utc_now() - timedelta(minutes=5)
    )
    try:
        close, created = await dead.create_close(
            NewClose(
                idempotency_key=request.idempotency_key,
                symbol=request.symbol,
                side=request.side,
                quantity=Decimal(2),
                request=stored,
            )
        )
    finally:
        await dead._writer.close()
    assert created
    status, same = await _post(api, idempotency_key="older-spelling")
    assert (status, same["close_id"]) == (200, close.id)
    api.state.keep(0.05)
    body = await api.finished(close.id)
    assert body["outcome"] == "FLAT"
    assert sum(Decimal(f["quantity"]) for f in body["fills"]) == Decimal(2)
