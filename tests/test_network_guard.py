"""The session-wide guard in conftest.py refuses everything beyond loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

GUARD_ERROR = "test tried to reach a non-loopback address"
DOCUMENTATION_V4 = ("192.0.2.1", 9)
DOCUMENTATION_V6 = ("2001:db8::1", 9)


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        yield server.getsockname()
    finally:
        server.close()


def test_create_connection_to_public_address_is_refused() -> None:
    with pytest.raises(RuntimeError, match=GUARD_ERROR):
        socket.create_connection(DOCUMENTATION_V4, timeout=1)


def test_socket_connect_to_public_address_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match=GUARD_ERROR):
            sock.connect(DOCUMENTATION_V4)
        with pytest.raises(RuntimeError, match=GUARD_ERROR):
            sock.connect_ex(DOCUMENTATION_V4)


def test_ipv6_public_address_is_refused() -> None:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("IPv6 sockets are unavailable")
    with sock, pytest.raises(RuntimeError, match=GUARD_ERROR):
        sock.connect(DOCUMENTATION_V6)


def test_ipv4_mapped_public_address_is_refused() -> None:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("IPv6 sockets are unavailable")
    with sock, pytest.raises(RuntimeError, match=GUARD_ERROR):
        sock.connect(("::ffff:192.0.2.1", 9))


def test_name_lookup_beyond_loopback_is_refused() -> None:
    with pytest.raises(RuntimeError, match=GUARD_ERROR):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(RuntimeError, match=GUARD_ERROR):
        socket.getaddrinfo("192.0.2.1", 443)


def test_named_connect_beyond_loopback_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(RuntimeError, match=GUARD_ERROR),
    ):
        sock.connect(("example.com", 80))


async def test_asyncio_connection_is_refused() -> None:
    with pytest.raises(RuntimeError, match=GUARD_ERROR):
        await asyncio.open_connection(*DOCUMENTATION_V4)
    with pytest.raises(RuntimeError, match=GUARD_ERROR):
        await asyncio.open_connection("example.com", 80)


async def test_aiohttp_default_session_is_refused() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(RuntimeError, match=GUARD_ERROR):
            await session.get("http://192.0.2.1:9/")
        with pytest.raises(RuntimeError, match=GUARD_ERROR):
            await session.get("http://example.com/")


def test_loopback_connections_work(listener: tuple[str, int]) -> None:
    host, port = listener
    assert socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    with socket.create_connection((host, port), timeout=1) as sock:
        assert sock.getpeername() == (host, port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex((host, port)) == 0


async def test_asyncio_loopback_connection_works(listener: tuple[str, int]) -> None:
    host, port = listener
    _reader, writer = await asyncio.open_connection(host, port)
    assert writer.get_extra_info("peername") == (host, port)
    writer.close()
    await writer.wait_closed()


def test_unix_socket_connections_work(tmp_path: Path) -> None:
    path = str(tmp_path / "guard.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            assert client.getpeername() == path
