"""Point unmodified ccxt Binance clients at a simulated venue.

ccxt builds its URLs from Binance's real host names. Instead of rewriting them,
the client gets an aiohttp session whose resolver maps every simulated Binance
host to the venue's loopback port and whose TLS context trusts only the
simulator's CA. Any other host name fails to resolve, so a client wired this way
cannot reach the real exchange.

The routing itself is :mod:`router.venues.transport`, which a real venue's ``connect``
table uses too; the simulator (:mod:`router.sim`) only serves.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import ccxt.async_support
import ccxt.pro

from router.sim.endpoint import VenueEndpoint
from router.sim.tls import SIM_HOSTS
from router.venues.transport import HostResolver, routed_session

DEFAULT_OPTIONS: dict[str, Any] = {
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchMarkets": {"types": ["spot", "linear"]},
    "adjustForTimeDifference": False,
}

_RETRY_OPTION = "maxRetriesOnFailure"
"""ccxt option making ``fetch2`` resend a request (orders included) after a network error."""

_sessions: weakref.WeakKeyDictionary[Any, aiohttp.ClientSession] = weakref.WeakKeyDictionary()


class LoopbackResolver(HostResolver):
    """Resolves the simulated Binance hosts to one venue's loopback port."""

    def __init__(self, endpoint: VenueEndpoint, hosts: tuple[str, ...] = SIM_HOSTS) -> None:
        super().__init__(
            hosts, endpoint.host, endpoint.port, label=f"simulated venue {endpoint.name!r}"
        )


def make_session(endpoint: VenueEndpoint) -> aiohttp.ClientSession:
    """An aiohttp session that reaches only ``endpoint``. Needs a running event loop."""
    return routed_session(
        SIM_HOSTS,
        endpoint.host,
        endpoint.port,
        endpoint.ca_cert,
        label=f"simulated venue {endpoint.name!r}",
    )


def binance_client(
    endpoint: VenueEndpoint,
    *,
    pro: bool = False,
    options: dict[str, Any] | None = None,
    **config: Any,
) -> Any:
    """An unmodified ccxt Binance client (``ccxt.pro`` when ``pro``) wired to ``endpoint``.

    ccxt does not close a session it was given; release the client with
    :func:`close_client` or use :func:`connect_binance`. Request retries stay off:
    ccxt would otherwise resend an order whose fate it does not know.
    Needs a running event loop.
    """
    merged_options = {**copy.deepcopy(DEFAULT_OPTIONS), **(options or {})}
    if merged_options.setdefault(_RETRY_OPTION, 0) != 0:
        raise ValueError(f"{_RETRY_OPTION} must stay 0: a retried request can duplicate an order")
    if "session" in config:
        raise ValueError("the session is created from the endpoint and cannot be replaced")
    session = make_session(endpoint)
    settings: dict[str, Any] = {
        "apiKey": endpoint.api_key,
        "secret": endpoint.secret,
        "enableRateLimit": True,
        "timeout": 10000,
        **config,
        "session": session,
        "options": merged_options,
    }
    exchange_class = ccxt.pro.binance if pro else ccxt.async_support.binance
    exchange = exchange_class(settings)
    _sessions[exchange] = session
    return exchange


async def close_client(exchange: Any) -> None:
    """Close a client from :func:`binance_client` together with its session."""
    session = _sessions.pop(exchange, None) or exchange.session
    try:
        await exchange.close()
    finally:
        if session is not None:
            await session.close()


@asynccontextmanager
async def connect_binance(
    endpoint: VenueEndpoint,
    *,
    pro: bool = False,
    options: dict[str, Any] | None = None,
    **config: Any,
) -> AsyncIterator[Any]:
    """Yield :func:`binance_client` and close it and its session on exit."""
    exchange = binance_client(endpoint, pro=pro, options=options, **config)
    try:
        yield exchange
    finally:
        await close_client(exchange)
