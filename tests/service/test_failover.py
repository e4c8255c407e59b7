"""Failover: two ``router serve`` processes on one PostgreSQL journal. The router
running a close is SIGKILLed mid-close; the other's keeper takes the close over once
the lease has expired, reconciles it with the venues and finishes it. The venues'
balances show nothing was sold twice."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.journal.conftest import (
    PG_ADMIN_DATABASE,
    PG_HOST,
    PG_PORT,
    PG_USER,
    postgres_url,
    require_postgres,
    run_in_thread,
)
from tests.service.conftest import TRADE, close_body
from tests.service.processes import (
    Router,
    btc_held,
    running_simulator,
    serve_router,
    stop,
    write_venues,
)

LEASE_S = 3
CONFIG = f"""
[service]
lease_s = {LEASE_S}
keeper_every_s = 0.5

[policy]
split_above_impact = "0"
"""


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DATABASE, timeout=5
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def shared_journal() -> Iterator[str]:
    """A fresh PostgreSQL database both routers journal to."""
    require_postgres()
    name = f"router_failover_{secrets.token_hex(6)}"
    run_in_thread(lambda: _admin(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url(name)
    finally:
        run_in_thread(lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.timeout(300)
def test_the_second_router_takes_over_a_close_whose_router_was_killed(
    tmp_path: Path, shared_journal: str
) -> None:
    with running_simulator(tmp_path) as simulator:
        venues = tmp_path / "venues.toml"
        environ = write_venues(venues, simulator, dry_run=False)
        held_before = asyncio.run(btc_held(simulator))
        first, router_a = serve_router(tmp_path, "a", venues, environ, shared_journal, CONFIG)
        second, router_b = serve_router(tmp_path, "b", venues, environ, shared_journal, CONFIG)
        try:
            accepted = router_a.call(
                "POST",
                "/v1/closes",
                TRADE,
                close_body(quantity="2", urgency="0.6", idempotency_key="failover-1"),
            )
            close_id = accepted["close_id"]
            _wait_for_first_fill(router_a, close_id)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            body = router_b.finished(close_id, timeout_s=110)
        finally:
            stop(second)
            stop(first)
        held_after = asyncio.run(btc_held(simulator))

    assert body["outcome"] == "FLAT", body
    assert Decimal(body["filled"]) == Decimal(2)
    assert sum(Decimal(f["quantity"]) for f in body["fills"]) == Decimal(2)
    client_ids = [a["client_order_id"] for a in body["attempts"]]
    assert len(client_ids) == len(set(client_ids))
    assert held_before - held_after == Decimal(2), "the venues sold more than the close"
    log_b = (tmp_path / "b.log").read_text(encoding="utf-8")
    assert "keeper: resuming close failover-1" in log_b


def _wait_for_first_fill(router: Router, close_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = router.call("GET", f"/v1/closes/{close_id}")
        assert body["outcome"] is None, f"the close ended before the kill: {body}"
        if body["fills"]:
            return body
        assert time.monotonic() < deadline, "no fill came"
        time.sleep(0.05)
