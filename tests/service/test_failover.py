"""Failover: two ``router serve`` processes on one PostgreSQL journal. The router
running a close is SIGKILLed mid-close; the other's keeper takes the close over once
the lease has expired, reconciles it with the venues and finishes it. The venues'
balances show nothing was sold twice."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from router.harness.connect import binance_client, close_client
from router.sim.endpoint import VenueEndpoint
from tests.journal.conftest import (
    PG_ADMIN_DATABASE,
    PG_HOST,
    PG_PORT,
    PG_USER,
    postgres_url,
    require_postgres,
    run_in_thread,
)
from tests.service.conftest import TOKENS, TRADE, close_body
from tests.service.processes import (
    ROUTER,
    Router,
    Simulator,
    read_line,
    running_simulator,
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


async def _btc_held(simulator: Simulator) -> Decimal:
    total = Decimal(0)
    for venue in simulator.venues:
        exchange = binance_client(
            VenueEndpoint(
                venue["name"], venue["port"], simulator.ca_cert, venue["api_key"], venue["secret"]
            )
        )
        try:
            balance = await exchange.fetch_balance()
        finally:
            await close_client(exchange)
        total += Decimal(str(balance["total"].get("BTC", 0)))
    return total


def _serve(
    tmp_path: Path, name: str, venues: Path, environ: dict[str, str], journal: str
) -> tuple[subprocess.Popen[str], Router]:
    config = tmp_path / "router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    log = tmp_path / f"{name}.log"
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            [
                *ROUTER,
                "serve",
                "--venues",
                str(venues),
                "--port",
                "0",
                "--db",
                journal,
                "--config",
                str(config),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, **environ, "ROUTER_API_TOKENS": TOKENS},
        )
    assert process.stdout is not None
    line = read_line(process, process.stdout, log)
    return process, Router(line.split()[3])


@pytest.mark.timeout(300)
def test_the_second_router_takes_over_a_close_whose_router_was_killed(
    tmp_path: Path, shared_journal: str
) -> None:
    with running_simulator(tmp_path) as simulator:
        venues = tmp_path / "venues.toml"
        environ = write_venues(venues, simulator, dry_run=False)
        held_before = asyncio.run(_btc_held(simulator))
        first, router_a = _serve(tmp_path, "a", venues, environ, shared_journal)
        second, router_b = _serve(tmp_path, "b", venues, environ, shared_journal)
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
        held_after = asyncio.run(_btc_held(simulator))

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
