"""Fixtures for the documentation-driven conformance suite.

The simulator is treated as a black box: every check goes over HTTPS to the
``api.binance.com`` / ``fapi.binance.com`` names that ``make_session`` resolves to
venue ``alpha`` (spot and USD-M futures) of the parent conftest's ``cluster``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.harness.connect import make_session
from router.sim.server import SimCluster
from router.sim.venue import SimVenue

from .helpers import BinanceRest


@pytest.fixture
async def rest(cluster: SimCluster) -> AsyncIterator[BinanceRest]:
    """A documented-signing REST client holding venue alpha's key and secret."""
    endpoint = cluster.endpoint("alpha")
    async with make_session(endpoint) as session:
        yield BinanceRest(session, endpoint.api_key, endpoint.secret)


@pytest.fixture
async def bravo_rest(cluster: SimCluster) -> AsyncIterator[BinanceRest]:
    """The same client for venue bravo (spot only, tick 0.1, step 0.0001)."""
    endpoint = cluster.endpoint("bravo")
    async with make_session(endpoint) as session:
        yield BinanceRest(session, endpoint.api_key, endpoint.secret)


@pytest.fixture
def venue(cluster: SimCluster) -> SimVenue:
    """Venue alpha's in-process object: read-only ground truth for cross-checks."""
    return cluster.venue("alpha")
