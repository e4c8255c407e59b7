"""Routing an exchange's host names to another address, trusting a given CA.

ccxt builds its URLs from the exchange's real host names. A client given a session from
:func:`routed_session` keeps those URLs (and so its signing and paths) but connects to
one ``address:port`` instead, trusting only the given CA and still checking host names;
any host name outside the set fails to resolve, so such a client can reach nothing else.
The simulator's clients and a real venue's ``connect`` table (a local simulator, a
TLS-intercepting proxy) both use it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from pathlib import Path

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult


def client_ssl_context(ca_cert: Path) -> ssl.SSLContext:
    """TLS context that trusts only ``ca_cert`` and checks host names strictly."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


class HostResolver(AbstractResolver):
    """Resolves a fixed set of host names to one ``address:port``, whatever port the URL
    names; any other name fails with ``socket.gaierror`` (a connection error in aiohttp).

    aiohttp connects to the port the resolver returns, so REST (443) and websockets
    (9443) land on the same port. ``label`` names the destination in errors.
    """

    def __init__(self, hosts: Iterable[str], address: str, port: int, *, label: str) -> None:
        self._hosts = frozenset(host.lower().rstrip(".") for host in hosts)
        self._address = address
        self._port = port
        self._label = label
        family = ipaddress.ip_address(address).version
        self._family = socket.AF_INET6 if family == 6 else socket.AF_INET

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.lower().rstrip(".")
        if name not in self._hosts:
            raise socket.gaierror(
                socket.EAI_NONAME,
                f"{host!r} is not served by {self._label}; "
                f"only {', '.join(sorted(self._hosts))} resolve",
            )
        return [
            ResolveResult(
                hostname=host,
                host=self._address,
                port=self._port,
                family=self._family,
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
        ]

    async def close(self) -> None:
        return None


def routed_session(
    hosts: Iterable[str], address: str, port: int, ca_file: Path, *, label: str
) -> aiohttp.ClientSession:
    """An aiohttp session that sends ``hosts`` to ``address:port``, trusts only
    ``ca_file`` (host names still checked) and reaches nothing else. Needs a running
    event loop."""
    connector = aiohttp.TCPConnector(
        resolver=HostResolver(hosts, address, port, label=label),
        ssl=client_ssl_context(ca_file),
        use_dns_cache=False,
    )
    return aiohttp.ClientSession(connector=connector, trust_env=False)
