"""TLS material and the loopback transport that points unmodified ccxt at a venue."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import ccxt.async_support
import ccxt.pro
import pytest
from aiohttp import web
from cryptography import x509

from router.harness.connect import (
    LoopbackResolver,
    binance_client,
    close_client,
    connect_binance,
    make_session,
)
from router.sim import tls
from router.sim.endpoint import VenueEndpoint
from router.sim.tls import SIM_HOSTS, TlsMaterial, ensure_tls_material, server_ssl_context
from router.venues.transport import client_ssl_context

SPOT_TIME = 1_700_000_000_123
FUTURES_TIME = 1_700_000_000_456
SECRET = "venue-secret-do-not-print"


@dataclass
class Venue:
    """A stand-in venue: one TLS port, recording what reached it."""

    endpoint: VenueEndpoint
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    sockets: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)

    @property
    def order_posts(self) -> int:
        return sum(
            1 for method, _, path in self.requests if (method, path) == ("POST", "/api/v3/order")
        )


@pytest.fixture
def material(tmp_path: Path) -> TlsMaterial:
    return ensure_tls_material(tmp_path / "tls")


@pytest.fixture
async def venue(material: TlsMaterial) -> AsyncIterator[Venue]:
    open_sockets: set[web.WebSocketResponse] = set()
    venue: Venue | None = None

    def record(request: web.Request) -> Venue:
        assert venue is not None
        venue.requests.append((request.method, request.host, request.path))
        return venue

    async def spot_time(request: web.Request) -> web.Response:
        record(request)
        return web.json_response({"serverTime": SPOT_TIME})

    async def futures_time(request: web.Request) -> web.Response:
        record(request)
        return web.json_response({"serverTime": FUTURES_TIME})

    async def order(request: web.Request) -> web.Response:
        record(request)
        return web.Response(status=503, text="Service Unavailable")

    async def stream(request: web.Request) -> web.WebSocketResponse:
        current = record(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        open_sockets.add(ws)
        await current.sockets.put((request.host, request.path))
        await ws.send_json({"host": request.host, "path": request.path})
        try:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await ws.send_str(message.data)
        finally:
            open_sockets.discard(ws)
        return ws

    async def close_sockets(_app: web.Application) -> None:
        for ws in list(open_sockets):
            await ws.close()

    app = web.Application()
    app.router.add_get("/api/v3/time", spot_time)
    app.router.add_get("/fapi/v1/time", futures_time)
    app.router.add_post("/api/v3/order", order)
    app.router.add_get("/ws/{stream}", stream)
    app.router.add_get("/public/ws/{stream}", stream)
    app.on_shutdown.append(close_sockets)

    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl_context(material))
    await site.start()
    _host, port = runner.addresses[0][:2]
    venue = Venue(
        endpoint=VenueEndpoint(
            name="binance-a",
            port=port,
            ca_cert=material.ca_cert,
            api_key="venue-api-key",
            secret=SECRET,
        )
    )
    try:
        yield venue
    finally:
        await runner.cleanup()


def _san(cert_path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def _contents(material: TlsMaterial) -> tuple[bytes, bytes, bytes]:
    return material.ca_cert.read_bytes(), material.cert.read_bytes(), material.key.read_bytes()


def test_tls_material_is_created_then_reused(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    material = ensure_tls_material(directory)

    assert material == TlsMaterial(
        ca_cert=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server-key.pem",
    )
    assert material.key.stat().st_mode & 0o777 == 0o600
    dns_names, ips = _san(material.cert)
    assert dns_names == {*SIM_HOSTS, "localhost"}
    assert ips == {"127.0.0.1"}
    ca = x509.load_pem_x509_certificate(material.ca_cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert = x509.load_pem_x509_certificate(material.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == dt.timedelta(days=825)
    assert cert.not_valid_before_utc < dt.datetime.now(dt.UTC) - dt.timedelta(hours=23)

    before = _contents(material)
    assert ensure_tls_material(directory) == material
    assert _contents(material) == before


def test_tls_material_is_replaced_when_it_no_longer_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "tls"
    material = ensure_tls_material(directory)

    first = _contents(material)
    ensure_tls_material(directory, (*SIM_HOSTS, "dstream.binance.com"))
    assert _contents(material) != first
    assert "dstream.binance.com" in _san(material.cert)[0]

    material.cert.write_text("not a certificate")
    ensure_tls_material(directory)
    assert {*SIM_HOSTS, "localhost"} <= _san(material.cert)[0]

    with monkeypatch.context() as patch:
        patch.setattr(tls, "_VALIDITY", dt.timedelta(hours=36))
        ensure_tls_material(directory, ("other.example",))
    expiring = _contents(material)
    ensure_tls_material(directory, ("other.example",))
    assert _contents(material) != expiring

    material.key.chmod(0o644)
    ensure_tls_material(directory, ("other.example",))
    assert material.key.stat().st_mode & 0o777 == 0o600


async def test_unmodified_ccxt_fetches_time_from_the_venue(venue: Venue) -> None:
    async with connect_binance(venue.endpoint) as exchange:
        assert type(exchange) is ccxt.async_support.binance
        session = exchange.session
        assert await exchange.fetch_time() == SPOT_TIME
        assert await exchange.fetch_time({"type": "swap"}) == FUTURES_TIME
    assert session.closed
    assert venue.requests == [
        ("GET", "api.binance.com", "/api/v3/time"),
        ("GET", "fapi.binance.com", "/fapi/v1/time"),
    ]


async def test_client_configuration(venue: Venue) -> None:
    exchange = binance_client(
        venue.endpoint, options={"defaultType": "swap"}, timeout=2500, enableRateLimit=False
    )
    try:
        assert exchange.apiKey == "venue-api-key"
        assert exchange.secret == SECRET
        assert exchange.timeout == 2500
        assert exchange.enableRateLimit is False
        assert exchange.own_session is False
        assert exchange.options["defaultType"] == "swap"
        assert exchange.options["fetchCurrencies"] is False
        assert exchange.options["fetchMargins"] is False
        assert exchange.options["fetchMarkets"]["types"] == ["spot", "linear"]
        assert exchange.options["adjustForTimeDifference"] is False
    finally:
        await close_client(exchange)


async def test_session_reaches_the_venue_under_every_binance_name(venue: Venue) -> None:
    async with make_session(venue.endpoint) as session:
        async with session.get("https://api.binance.com/api/v3/time") as response:
            assert await response.json() == {"serverTime": SPOT_TIME}
        async with session.get("https://fapi.binance.com/fapi/v1/time") as response:
            assert await response.json() == {"serverTime": FUTURES_TIME}

        for url, host, path in [
            ("wss://stream.binance.com:9443/ws/0", "stream.binance.com:9443", "/ws/0"),
            ("wss://fstream.binance.com/public/ws/0", "fstream.binance.com", "/public/ws/0"),
        ]:
            async with session.ws_connect(url) as ws:
                assert await ws.receive_json(timeout=5) == {"host": host, "path": path}
                await ws.send_str("ping")
                assert await ws.receive_str(timeout=5) == "ping"

        with pytest.raises(aiohttp.ClientConnectorDNSError, match="not served by simulated venue"):
            await session.get("https://example.com/")


async def test_resolver_maps_every_port_to_the_venue(venue: Venue) -> None:
    resolver = LoopbackResolver(venue.endpoint)
    for host, port in [("api.binance.com", 443), ("STREAM.binance.com.", 9443)]:
        [result] = await resolver.resolve(host, port)
        assert (result["hostname"], result["host"], result["port"]) == (
            host,
            "127.0.0.1",
            venue.endpoint.port,
        )
    with pytest.raises(OSError, match=r"'dstream\.binance\.com' is not served"):
        await resolver.resolve("dstream.binance.com", 443)


async def test_ccxt_pro_websockets_use_the_venue_session(venue: Venue) -> None:
    exchange = binance_client(venue.endpoint, pro=True)
    assert type(exchange) is ccxt.pro.binance
    session = exchange.session
    try:
        for url, host, path in [
            ("wss://stream.binance.com:9443/ws/0", "stream.binance.com:9443", "/ws/0"),
            ("wss://fstream.binance.com/public/ws/0", "fstream.binance.com", "/public/ws/0"),
        ]:
            client = exchange.client(url)
            await asyncio.wait_for(client.connect(exchange.session), timeout=5)
            assert await asyncio.wait_for(venue.sockets.get(), timeout=5) == (host, path)
            assert not client.connection.closed
    finally:
        await close_client(exchange)
    assert session.closed
    assert exchange.clients == {}


async def test_close_client_closes_a_session_ccxt_already_dropped(venue: Venue) -> None:
    exchange = binance_client(venue.endpoint)
    session = exchange.session
    await exchange.close()
    assert exchange.session is None
    assert not session.closed
    await close_client(exchange)
    assert session.closed


async def test_certificate_is_rejected_without_the_venue_ca(venue: Venue, tmp_path: Path) -> None:
    stranger = ensure_tls_material(tmp_path / "stranger")
    for ca_cert in [stranger.ca_cert, None]:
        context = (
            ssl.create_default_context(cafile=str(ca_cert))
            if ca_cert
            else ssl.create_default_context()
        )
        connector = aiohttp.TCPConnector(resolver=LoopbackResolver(venue.endpoint), ssl=context)
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get("https://api.binance.com/api/v3/time")
    assert venue.requests == []


async def test_certificate_is_rejected_for_a_name_it_does_not_carry(venue: Venue) -> None:
    context = client_ssl_context(venue.endpoint.ca_cert)
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        await asyncio.open_connection(
            "127.0.0.1",
            venue.endpoint.port,
            ssl=context,
            server_hostname="dstream.binance.com",
        )
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", venue.endpoint.port, ssl=context, server_hostname="fstream.binance.com"
    )
    writer.close()
    await writer.wait_closed()


def test_endpoint_repr_hides_the_secret(tmp_path: Path) -> None:
    endpoint = VenueEndpoint(
        name="binance-a", port=8443, ca_cert=tmp_path / "ca.pem", api_key="key", secret=SECRET
    )
    for text in (repr(endpoint), str(endpoint), f"{endpoint}"):
        assert SECRET not in text
        assert "secret='***'" in text
        assert "name='binance-a'" in text
        assert "port=8443" in text


@pytest.mark.parametrize(
    ("port", "host"),
    [(0, "127.0.0.1"), (70000, "127.0.0.1"), (8443, "192.0.2.1"), (8443, "localhost")],
)
def test_endpoint_must_be_a_loopback_address(tmp_path: Path, port: int, host: str) -> None:
    with pytest.raises(ValueError, match="binance-a"):
        VenueEndpoint(
            name="binance-a",
            port=port,
            ca_cert=tmp_path / "ca.pem",
            api_key="key",
            secret=SECRET,
            host=host,
        )


async def test_failed_requests_are_not_resent(venue: Venue) -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
    async with connect_binance(venue.endpoint) as exchange:
        assert exchange.options["maxRetriesOnFailure"] == 0
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await exchange.private_post_order(order)
        assert venue.order_posts == 1

        exchange.options["maxRetriesOnFailure"] = 2
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await exchange.private_post_order(order)
        assert venue.order_posts == 1 + 3


async def test_retries_cannot_be_switched_on(venue: Venue) -> None:
    with pytest.raises(ValueError, match="maxRetriesOnFailure"):
        binance_client(venue.endpoint, options={"maxRetriesOnFailure": 1})
    with pytest.raises(ValueError, match="session"):
        binance_client(venue.endpoint, session=None)
