"""Real-exchange venue configuration: validation, keys from the environment, sandbox, dry
run, ``connect`` routing and ccxt options. Nothing here talks to a network (markets are
never loaded)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from router.config import config_dir
from router.sim.tls import ensure_tls_material
from router.venues.adapter import VenueAdapter
from router.venues.config import (
    DRY_RUN_ERROR,
    DryRunAdapter,
    VenueConfigError,
    api_hosts,
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


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    return ensure_tls_material(tmp_path / "tls").ca_cert


def connect(ca: Path | str, address: str = "127.0.0.1:8443") -> dict[str, Any]:
    return {"address": address, "ca_file": str(ca)}


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("127.0.0.1:8443", "127.0.0.1", 8443),
        ("[::1]:443", "::1", 443),
        ("10.1.2.3:1", "10.1.2.3", 1),
    ],
)
def test_connect_takes_an_ip_literal_and_a_port(
    ca_file: Path, address: str, host: str, port: int
) -> None:
    spec = parse_venues({"venues": [venue(connect=connect(ca_file, address))]}).venues[0]
    assert spec.connect is not None
    assert (spec.connect.host, spec.connect.port, spec.connect.ca_file) == (host, port, ca_file)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"address": "localhost:8443"}, "venues.0.connect.address"),
        ({"address": "127.0.0.1"}, "venues.0.connect.address"),
        ({"address": "127.0.0.1:0"}, "venues.0.connect.address"),
        ({"address": "127.0.0.1:65536"}, "venues.0.connect.address"),
        ({"address": "127.0.0.1:port"}, "venues.0.connect.address"),
        ({"address": "::1:8443"}, "venues.0.connect.address"),
        ({"address": "[127.0.0.1]:8443"}, "venues.0.connect.address"),
        ({"ca_file": "no-such-ca.pem"}, "venues.0.connect.ca_file"),
        ({"proxy": "http"}, "venues.0.connect.proxy"),
    ],
)
def test_a_bad_connect_names_the_key(ca_file: Path, fields: dict[str, str], named: str) -> None:
    message = refused({"venues": [venue(connect={**connect(ca_file), **fields})]})
    assert named in message
    assert "no-such-ca" not in message


def test_a_relative_ca_file_is_read_next_to_the_venues_file(tmp_path: Path, ca_file: Path) -> None:
    path = tmp_path / "venues.toml"
    path.write_text(
        "[[venues]]\n"
        'name = "binance"\n'
        'exchange = "binance"\n'
        'api_key_env = "ROUTER_BINANCE_API_KEY"\n'
        'secret_env = "ROUTER_BINANCE_SECRET"\n'
        "[venues.connect]\n"
        'address = "127.0.0.1:8443"\n'
        f'ca_file = "{ca_file.relative_to(tmp_path)}"\n',
        encoding="utf-8",
    )
    spec = load_venues(path).venues[0]
    assert spec.connect is not None
    assert spec.connect.ca_file == ca_file


def test_quote_defaults_to_usdt_and_is_checked() -> None:
    assert parse_venues({"venues": [venue()]}).quote == "USDT"
    assert parse_venues({"quote": "USDC", "venues": [venue()]}).quote == "USDC"
    assert "quote" in refused({"quote": "usd t", "venues": [venue()]})


async def test_options_reach_the_ccxt_client(closing: list[VenueAdapter]) -> None:
    options = {"fetchCurrencies": False, "fetchMarkets": {"types": ["spot", "linear"]}}
    exchange = build({"venues": [venue(options=options)]}, closing)["binance"]._exchange
    assert exchange.options["fetchCurrencies"] is False
    assert exchange.options["fetchMarkets"]["types"] == ["spot", "linear"]
    assert exchange.options["maxRetriesOnFailure"] == 0


def test_api_hosts_follow_sandbox_mode() -> None:
    live = ccxt_async.binance()
    testnet = ccxt_async.binance()
    testnet.set_sandbox_mode(True)
    assert {"api.binance.com", "fapi.binance.com"} <= set(api_hosts(live))
    assert not any("testnet" in host for host in api_hosts(live))
    assert api_hosts(testnet)
    assert all("testnet" in host for host in api_hosts(testnet))
    bybit = ccxt_async.bybit()
    assert all("{" not in host for host in api_hosts(bybit))


async def test_connect_routes_the_api_hosts_and_closes_with_the_adapter(
    ca_file: Path, closing: list[VenueAdapter]
) -> None:
    raw = {"venues": [venue(connect=connect(ca_file, "127.0.0.1:9")), venue(name="direct")]}
    adapters = build(raw, closing)
    routed = adapters["binance"]._exchange
    direct = adapters["direct"]._exchange
    session = routed.session
    assert session is not None
    assert direct.session is None
    resolver = session.connector._resolver
    [result] = await resolver.resolve("api.binance.com", 443)
    assert (result["host"], result["port"]) == ("127.0.0.1", 9)
    [result] = await resolver.resolve("FAPI.binance.com.", 443)
    assert (result["host"], result["port"]) == ("127.0.0.1", 9)
    with pytest.raises(OSError, match="not served by venue binance's connect address"):
        await resolver.resolve("example.com", 443)
    await adapters["binance"].close()
    assert session.closed
