"""Secrets never leak: venue API keys and secrets and the API's bearer tokens appear in
no log record (DEBUG, ``router``, ``ccxt`` and ``aiohttp``), no journal row, no API
answer, no metric and no exception text, through a close in a fault storm and the
configuration error paths."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import inspect, text

from router.config import ConfigError, load_config
from router.service.app import build_app
from router.service.state import ServiceState
from router.sim.scenario import FaultSpec
from router.venues.adapter import harden
from router.venues.config import VenueConfigError, build_adapters, parse_venues
from router.venues.redact import Redactor
from tests.engine.conftest import World, build_world, three_venues

READ = "read-token-secret-0123456789abcdef"
TRADE = "trade-token-secret-0123456789abcdef"
WRONG = "wrong-token-secret-0123456789abcdef"
LOGGERS = ("router", "ccxt", "aiohttp")
STORM = [
    {"kind": "outage", "probability": "0.2"},
    {"kind": "rate_limit", "probability": "0.15", "retry_after_s": 0},
    {"kind": "garbled", "probability": "0.15"},
    {"kind": "nonsense", "variant": "other_client_id", "endpoint": "POST /api/v3/order"},
    {"kind": "timeout_after_accept", "probability": "0.3", "endpoint": "POST /api/v3/order"},
    {"kind": "nonsense", "variant": "crossed_book", "endpoint": "GET /api/v3/depth", "count": 2},
]


def _secrets(world: World) -> dict[str, str]:
    found: dict[str, str] = {"read token": READ, "trade token": TRADE, "wrong token": WRONG}
    for endpoint in world.cluster.endpoints():
        found[f"{endpoint.name} api key"] = endpoint.api_key
        found[f"{endpoint.name} secret"] = endpoint.secret
    return found


async def _journal_text(world: World) -> str:
    async with world.journal.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert {"closes", "attempts", "venue_events"} <= set(tables)
        dumped = []
        for table in tables:
            rows = await conn.execute(text(f'SELECT * FROM "{table}"'))
            dumped.extend(repr(tuple(row)) for row in rows)
    return "\n".join(dumped)


def _exception_texts(exc: BaseException) -> list[str]:
    texts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts.extend([str(current), repr(current)])
        current = current.__cause__ or current.__context__
    return texts


def _config_errors(world: World) -> list[str]:
    """The texts of the configuration errors a leaked secret could end up in."""
    endpoint = world.cluster.endpoints()[0]
    texts: list[str] = []
    attempts: list[Callable[[], Any]] = [
        # a key pasted where a variable name belongs
        lambda: parse_venues(
            {
                "venues": [
                    {
                        "name": "alpha",
                        "exchange": "binance",
                        "api_key_env": endpoint.secret,
                        "secret_env": "ALPHA_SECRET",
                    }
                ]
            }
        ),
        lambda: parse_venues(
            {
                "venues": [
                    {
                        "name": "alpha",
                        "exchange": "binance",
                        "api_key_env": "ALPHA_KEY",
                        "secret_env": "ALPHA_SECRET",
                        "options": {"x": endpoint.api_key},
                    }
                ]
            }
        ),
        # a variable that is not set, next to one that is
        lambda: build_adapters(
            parse_venues(
                {
                    "venues": [
                        {
                            "name": "alpha",
                            "exchange": "binance",
                            "api_key_env": "ALPHA_KEY",
                            "secret_env": "ALPHA_SECRET",
                        }
                    ]
                }
            ),
            {"ALPHA_KEY": endpoint.api_key},
        ),
        # a router configuration variable holding a secret where a number belongs
        lambda: load_config(None, {"ROUTER__SERVICE__PORT": endpoint.secret}),
        lambda: load_config(None, {"ROUTER__SERVICE__TOKEN": endpoint.api_key}),
    ]
    for attempt in attempts:
        with pytest.raises((VenueConfigError, ConfigError, ValueError, TypeError)) as raised:
            attempt()
        texts.extend(_exception_texts(raised.value))
    return texts


async def test_no_secret_leaks_through_a_stormy_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    stack: list[Callable[[], Any]] = []
    answers: list[str] = []
    try:
        world = await build_world(three_venues(), tmp_path, stack)
        secrets = _secrets(world)
        for name in world.adapters:
            for raw in STORM:
                world.venue(name).faults.add(FaultSpec.model_validate(raw))
        state = ServiceState(
            engine=world.engine,
            journal=world.journal,
            adapters=world.adapters,
            health=world.health,
            tokens={READ: "read", TRADE: "trade"},
        )
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(state), host="127.0.0.1"))
        await client.start_server()
        stack.append(client.close)
        trade = {"Authorization": f"Bearer {TRADE}"}
        read = {"Authorization": f"Bearer {READ}"}

        async def call(method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
            response = await client.request(method, path, headers=headers, **kw)
            answers.append(f"{response.status} {dict(response.headers)} {await response.text()}")
            return response

        body = {
            "symbol": "BTC",
            "side": "sell",
            "quantity": "4",
            "urgency": "0.9",
            "idempotency_key": "secrets-1",
        }
        started = await call("POST", "/v1/closes", trade, json=body)
        assert started.status == 202
        close_id = (await started.json())["close_id"]
        for _ in range(3000):
            got = await call("GET", f"/v1/closes/{close_id}", read)
            if (await got.json())["outcome"] is not None:
                break
            await asyncio.sleep(0.01)
        final = await (await call("GET", f"/v1/closes/{close_id}", read)).json()
        assert final["outcome"] in ("FLAT", "HEDGED", "STRANDED")
        await call("GET", f"/v1/closes/{close_id}/events", read)
        for path in ("/v1/venues", "/v1/hedges", "/v1/liquidity/BTC", "/readyz", "/metrics"):
            await call("GET", path, read)
        await call("POST", "/v1/closes", read, json=body)
        await call("GET", "/v1/venues", {"Authorization": f"Bearer {WRONG}"})
        await call("GET", "/v1/venues", {"Authorization": WRONG})
        await call("POST", "/v1/closes", trade, json={**body, "reason": 1})
        hit = {kind for n in world.adapters for kind in world.venue(n).faults.injected}
        assert {"outage", "rate_limit", "garbled", "nonsense"} <= hit, hit

        failures: list[str] = []
        for name in world.adapters:
            adapter = world.adapters[name]
            world.venue(name).faults.add(FaultSpec(kind="garbled", endpoint="GET /api/v3/depth"))
            try:
                await adapter.order_book("BTC/USDT")
            except Exception as exc:
                failures.extend(_exception_texts(exc))
        assert failures

        journal = await _journal_text(world)
        assert close_id in journal
        assert "venue" in journal
        logs = caplog.text + "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
        assert any(r.name.startswith("ccxt") for r in caplog.records), "ccxt was not heard"
        config_errors = _config_errors(world)
        places = {
            "logs": logs,
            "journal": journal,
            "answers": "\n".join(answers),
            "exceptions": "\n".join(failures + config_errors),
        }
        for where, content in places.items():
            for what, secret in secrets.items():
                assert secret not in content, f"the {what} leaks into the {where}"
    finally:
        for undo in reversed(stack):
            await undo()


async def test_ccxt_request_logs_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    key, secret = "k" * 24 + "-api-key", "s" * 24 + "-secret"
    client = ccxt.binance({"apiKey": key, "secret": secret})
    try:
        _log_a_request(client, key, secret, caplog)
    finally:
        await client.close()


def _log_a_request(client: Any, key: str, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    harden(client, 5)
    harden(client, 5)
    assert sum(isinstance(f, Redactor) for f in client.logger.filters) == 1
    caplog.set_level(logging.DEBUG, logger="ccxt")
    client.logger.debug(
        "%s %s, Request: %s %s",
        "GET",
        f"https://api.binance.com/api/v3/order?symbol=BTCUSDT&signature=abc123&secret={secret}",
        {"X-MBX-APIKEY": key},
        None,
    )
    [record] = [r for r in caplog.records if r.name.startswith("ccxt")]
    message = record.getMessage()
    assert key not in message
    assert secret not in message
    assert "abc123" not in message
    assert "symbol=BTCUSDT" in message
    assert "[redacted]" in message
