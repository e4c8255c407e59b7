"""Real-exchange venue configuration: validation, keys from the environment, sandbox and
dry run. Nothing here talks to a network (markets are never loaded)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from router.config import config_dir
from router.venues.adapter import VenueAdapter
from router.venues.config import (
    DRY_RUN_ERROR,
    DryRunAdapter,
    VenueConfigError,
    build_adapters,
    load_venues,
    parse_venues,
)
from router.venues.model import Outcome

API_KEY = "fAkEaPiKeY0123456789abcdefGHIJKLmnop"
SECRET = "fAkEsEcReT9876543210zyxwvuTSRQPONmlk"
PASSPHRASE = "fake-passphrase-42"
ENVIRON = {
    "ROUTER_BINANCE_API_KEY": API_KEY,
    "ROUTER_BINANCE_SECRET": SECRET,
    "ROUTER_OKX_API_KEY": API_KEY,
    "ROUTER_OKX_SECRET": SECRET,
    "ROUTER_OKX_PASSPHRASE": PASSPHRASE,
    "ROUTER_BYBIT_API_KEY": API_KEY,
    "ROUTER_BYBIT_SECRET": SECRET,
}
SECRETS = (API_KEY, SECRET, PASSPHRASE)


def venue(**fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "binance",
        "exchange": "binance",
        "api_key_env": "ROUTER_BINANCE_API_KEY",
        "secret_env": "ROUTER_BINANCE_SECRET",
    }
    spec.update(fields)
    return spec


def refused(raw: dict[str, Any]) -> str:
    with pytest.raises(VenueConfigError) as caught:
        parse_venues(raw, source="venues.toml")
    return str(caught.value)


@pytest.fixture
async def closing() -> AsyncIterator[list[VenueAdapter]]:
    """Adapters to close after the test (no connection is ever opened)."""
    built: list[VenueAdapter] = []
    yield built
    for adapter in built:
        await adapter.close()


def build(raw: dict[str, Any], built: list[VenueAdapter]) -> dict[str, VenueAdapter]:
    adapters = build_adapters(parse_venues(raw), ENVIRON)
    built.extend(adapters.values())
    return adapters


def test_the_example_file_is_valid() -> None:
    config = load_venues(config_dir() / "venues.example.toml")
    assert {v.exchange for v in config.venues} == {"binance", "okx", "bybit"}
    assert all(v.sandbox and v.dry_run for v in config.venues)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"venues": [venue(exchange="no-such-exchange")]}, "venues.0.exchange"),
        ({"venues": [venue(surprise=1)]}, "venues.0.surprise"),
        ({"venues": [venue(api_key_env="lower-case")]}, "venues.0.api_key_env"),
        ({"venues": [venue(timeout_s="-1")]}, "venues.0.timeout_s"),
        ({"venues": [venue(sandbox="maybe")]}, "venues.0.sandbox"),
        ({"venues": [venue(), venue()]}, "duplicate venue names: binance"),
        ({"venues": []}, "venues"),
        ({}, "venues"),
        ({"venues": [{k: v for k, v in venue().items() if k != "secret_env"}]}, "secret_env"),
    ],
)
def test_errors_name_the_key(raw: dict[str, Any], named: str) -> None:
    message = refused(raw)
    assert message.startswith("venues.toml: ")
    assert named in message


@pytest.mark.parametrize(
    "raw",
    [
        {"venues": [venue(api_key_env=API_KEY)]},
        {"venues": [venue(secret_env=SECRET)]},
        {"venues": [venue(api_key=API_KEY)]},
        {"venues": [venue(secret="0123456789ABCDEF0123456789ABCDEF")]},
        {"venues": [venue(password_env="0b6a9f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")]},
    ],
)
def test_a_key_in_the_file_is_refused_without_echoing_it(raw: dict[str, Any]) -> None:
    message = refused(raw)
    assert "looks like a key" in message
    assert "venues.0." in message
    value = next(v for v in raw["venues"][0].values() if len(str(v)) >= 16 and "_" not in str(v))
    assert value not in message


def test_variable_names_are_not_mistaken_for_keys() -> None:
    config = parse_venues({"venues": [venue(api_key_env="ROUTER_BINANCE_MAIN_ACCOUNT_API_KEY")]})
    assert config.venues[0].api_key_env == "ROUTER_BINANCE_MAIN_ACCOUNT_API_KEY"


def test_missing_variables_are_named_not_their_values() -> None:
    config = parse_venues(
        {
            "venues": [
                venue(),
                venue(
                    name="okx",
                    exchange="okx",
                    api_key_env="ROUTER_OKX_API_KEY",
                    secret_env="ROUTER_OKX_SECRET",
                    password_env="ROUTER_OKX_PASSPHRASE",
                ),
            ]
        }
    )
    environ = {k: v for k, v in ENVIRON.items() if k != "ROUTER_OKX_PASSPHRASE"}
    environ["ROUTER_BINANCE_SECRET"] = ""
    with pytest.raises(VenueConfigError) as caught:
        build_adapters(config, environ)
    message = str(caught.value)
    assert "ROUTER_OKX_PASSPHRASE (venue okx)" in message
    assert "ROUTER_BINANCE_SECRET (venue binance)" in message
    assert not any(secret in message for secret in SECRETS)


async def test_keys_reach_ccxt_but_never_a_repr(closing: list[VenueAdapter]) -> None:
    raw = {
        "venues": [
            venue(),
            venue(
                name="okx",
                exchange="okx",
                api_key_env="ROUTER_OKX_API_KEY",
                secret_env="ROUTER_OKX_SECRET",
                password_env="ROUTER_OKX_PASSPHRASE",
            ),
        ]
    }
    config = parse_venues(raw)
    adapters = build(raw, closing)
    okx = adapters["okx"]._exchange
    assert isinstance(okx, ccxt_async.okx)
    assert (okx.apiKey, okx.secret, okx.password) == (API_KEY, SECRET, PASSPHRASE)
    shown = " ".join([repr(config), str(config), repr(adapters), *map(repr, config.venues)])
    assert not any(secret in shown for secret in SECRETS)


async def test_sandbox_reaches_the_ccxt_instance(closing: list[VenueAdapter]) -> None:
    adapters = build({"venues": [venue(sandbox=True), venue(name="live", sandbox=False)]}, closing)
    sandboxed = adapters["binance"]._exchange
    live = adapters["live"]._exchange
    assert type(sandboxed) is ccxt_async.binance
    assert sandboxed.isSandboxModeEnabled is True
    assert "testnet" in str(sandboxed.urls["api"])
    assert live.isSandboxModeEnabled is False
    assert "testnet" not in str(live.urls["api"])
    assert adapters["binance"].timeout_s == 10.0
    assert sandboxed.timeout == 10_000


async def test_dry_run_never_sends_an_order(
    monkeypatch: pytest.MonkeyPatch, closing: list[VenueAdapter]
) -> None:
    async def create_order(*args: Any, **kwargs: Any) -> Any:
        pytest.fail("dry run sent an order")

    async def cancel_order(*args: Any, **kwargs: Any) -> Any:
        pytest.fail("dry run sent a cancel")

    monkeypatch.setattr(ccxt_async.binance, "create_order", create_order)
    monkeypatch.setattr(ccxt_async.binance, "cancel_order", cancel_order)
    adapters = build({"venues": [venue(dry_run=True, sandbox=True)]}, closing)
    adapter = adapters["binance"]
    assert isinstance(adapter, DryRunAdapter)
    result = await adapter.place_order(
        "BTC/USDT", "sell", Decimal("0.5"), client_order_id="c-1", limit_price=Decimal(60_000)
    )
    assert result.outcome is Outcome.NOT_PLACED
    assert result.error_class == DRY_RUN_ERROR
    assert result.client_order_id == "c-1"
    assert result.filled == 0
    assert await adapter.cancel("BTC/USDT", "c-1") is None


async def test_without_dry_run_orders_go_to_ccxt(closing: list[VenueAdapter]) -> None:
    adapters = build({"venues": [venue()]}, closing)
    assert not isinstance(adapters["binance"], DryRunAdapter)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(VenueConfigError, match="not found"):
        load_venues(tmp_path / "venues.toml")
