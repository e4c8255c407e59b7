"""Authentication, body limits and validation: nothing invalid reaches a venue."""

from __future__ import annotations

from typing import Any

import pytest

from router.service.auth import TokenError, load_tokens, parse_tokens
from tests.service.conftest import READ, TRADE, Api, close_body


async def test_healthz_is_open(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status == 200


@pytest.mark.parametrize("path", ["/v1/venues", "/metrics", "/readyz", "/v1/hedges"])
async def test_no_token_is_401(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status == 401
    assert (await response.json()) == {"error": "unauthorized"}


async def test_wrong_token_is_401(api: Api) -> None:
    response = await api.get("/v1/venues", token="not-a-token-at-all-xxxx")
    assert response.status == 401
    malformed = await api.client.get("/v1/venues", headers={"Authorization": READ})
    assert malformed.status == 401


async def test_read_token_cannot_trade(api: Api) -> None:
    response = await api.post("/v1/closes", token=READ, json=close_body())
    assert response.status == 403
    assert api.orders_on_venues() == 0


async def test_oversized_body_is_413(api: Api) -> None:
    body = close_body(reason="x" * (70 * 1024))
    response = await api.post("/v1/closes", json=body)
    assert response.status == 413
    assert "error" in await response.json()
    assert api.orders_on_venues() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"[1, 2]",
        b"",
        b'{"quantity": NaN}',
        b'{"quantity": Infinity}',
        b"\xff\xfe",
        b"[" * 30000 + b"]" * 30000,
        b'{"symbol": "BTC", "side": "sell", "quantity": "1", "idempotency_key": "a",'
        b' "quantity": "2"}',
        '{"symbol": "BTC", "side": "sell", "quantity": "1", "idempotency_key": "a"}'.encode(
            "utf-16"
        ),
    ],
    ids=["truncated", "array", "empty", "nan", "inf", "bom", "deep", "duplicate", "utf16"],
)
async def test_malformed_json_is_400(api: Api, raw: bytes) -> None:
    response = await api.post("/v1/closes", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 400
    body = await response.json()
    assert "Traceback" not in str(body)
    assert api.orders_on_venues() == 0
    assert not api.state.pending


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "NaN"}, "quantity"),
        ({"quantity": "Infinity"}, "quantity"),
        ({"quantity": "-Infinity"}, "quantity"),
        ({"quantity": "0." + "0" * 29 + "1"}, "quantity"),
        ({"quantity": "1e400"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"urgency": "1.5"}, "urgency"),
        ({"side": "short"}, "side"),
        ({"leverage": "10"}, "leverage"),
        ({"symbol": "ETH"}, "symbol"),
        ({"symbol": "<script>"}, "symbol"),
        ({"venues": ["alpha", "delta"]}, "venues"),
        ({"idempotency_key": None}, "idempotency_key"),
        ({"idempotency_key": "bad key with spaces"}, "idempotency_key"),
    ],
)
async def test_invalid_close_names_the_field(api: Api, fields: dict[str, Any], field: str) -> None:
    response = await api.post("/v1/closes", json=close_body(**fields))
    assert response.status in (400, 422)
    body = await response.json()
    assert field in {f["field"] for f in body["fields"]}
    assert "Traceback" not in str(body)
    assert api.orders_on_venues() == 0
    assert await api.world.journal.close_by_key("api-close-1") is None


async def test_missing_key_names_the_field(api: Api) -> None:
    body = close_body()
    del body["idempotency_key"]
    response = await api.post("/v1/closes", json=body)
    assert response.status == 422
    assert "idempotency_key" in {f["field"] for f in (await response.json())["fields"]}
    assert api.orders_on_venues() == 0


@pytest.mark.parametrize("number", [b"0.1000000000000000000000000001", b"0.1", b"1"])
async def test_a_json_number_quantity_is_refused_naming_the_field(api: Api, number: bytes) -> None:
    """Quantities travel as strings: a JSON number, however exact, is 422."""
    raw = b'{"symbol": "BTC", "side": "sell", "quantity": ' + number
    raw += b', "idempotency_key": "exact"}'
    response = await api.post("/v1/closes", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert [f["field"] for f in (await response.json())["fields"]] == ["quantity"]
    assert api.orders_on_venues() == 0


async def test_unexpected_error_is_500_without_detail(api: Api) -> None:
    async def broken(key: str) -> None:
        raise RuntimeError("secret detail")

    api.state.journal.close_by_key = broken  # type: ignore[method-assign]
    response = await api.post("/v1/closes", json=close_body())
    assert response.status == 500
    body = await response.json()
    assert body["error"] == "internal error"
    assert body["id"]
    assert "secret" not in str(body)


def test_token_parsing(tmp_path: Any) -> None:
    assert parse_tokens(f"{READ}:read, {TRADE}:trade") == {READ: "read", TRADE: "trade"}
    with pytest.raises(TokenError):
        parse_tokens(f"{READ}:admin")
    with pytest.raises(TokenError):
        parse_tokens("short:read")
    secrets = tmp_path / "tokens"
    secrets.write_text(f"{READ}:read\n{TRADE}:trade\n")
    assert load_tokens({"ROUTER_API_TOKENS_FILE": str(secrets)})[TRADE] == "trade"
    assert load_tokens({}) == {}


async def test_configured_body_limit_is_enforced(api: Api) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from router.service.app import build_app

    small = TestClient(TestServer(build_app(api.state, max_body_bytes=2048), host="127.0.0.1"))
    await small.start_server()
    try:
        headers = api.headers(TRADE)
        refused = await small.post(
            "/v1/closes", json=close_body(reason="x" * 4096), headers=headers
        )
        assert refused.status == 413
        invalid_but_small = await small.post(
            "/v1/closes", json=close_body(quantity="-1"), headers=headers
        )
        assert invalid_but_small.status == 422
    finally:
        await small.close()
    assert api.orders_on_venues() == 0
