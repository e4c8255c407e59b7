"""Shared fixtures. The network guard keeps every test on loopback; the data directory
(the default journals) is a temporary one, never the user's."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from router.journal.db import DATA_DIR_ENV

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def _host_text(host: Any) -> str | None:
    if host is None:
        return None
    if isinstance(host, bytes | bytearray):
        return bytes(host).decode("idna")
    return str(host)


def _is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _check_address(family: int, address: Any) -> None:
    if family == getattr(socket, "AF_UNIX", None):
        return
    host = _host_text(address[0]) if isinstance(address, tuple) and address else None
    if family in (socket.AF_INET, socket.AF_INET6) and host and _is_loopback_host(host):
        return
    raise RuntimeError(f"test tried to reach a non-loopback address: {address!r}")


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """Fail any test that connects to, or looks up, anything beyond loopback."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self.family, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self.family, address)
        return real_connect_ex(self, address)

    def create_connection(address: tuple[Any, int], *args: Any, **kwargs: Any) -> socket.socket:
        host = _host_text(address[0])
        if host is None or not _is_loopback_host(host):
            raise RuntimeError(f"test tried to reach a non-loopback address: {address!r}")
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = _host_text(host)
        if name is not None and not _is_loopback_host(name):
            raise RuntimeError(f"test tried to reach a non-loopback address: {host!r} (lookup)")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "create_connection", create_connection)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.fixture(autouse=True, scope="session")
def _data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Default journals (and any ``router`` subprocess's) go to a temporary data directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_DIR_ENV, str(tmp_path_factory.mktemp("data")))
        yield
