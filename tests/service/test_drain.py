"""Graceful shutdown: on SIGTERM ``router serve`` refuses new requests that act, lets the
running close finish its wave, stops it there unfinished, releases its lease and exits 0;
a second router on the same journal resumes the close at once (its lease and keeper
interval are an hour: only the release lets it) and finishes it, showing it as running
meanwhile. The venues' balances show nothing was sold twice."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.journal.records import CloseView
from router.journal.repository import Journal
from tests.service.conftest import TRADE, Api, close_body
from tests.service.processes import (
    Router,
    btc_held,
    running_simulator,
    serve_router,
    stop,
    write_venues,
)

CONFIG = """
[service]
lease_s = 3600
keeper_every_s = 3600
drain_s = 60

[policy]
split_above_impact = "0"
"""
EXIT_S = 90


def _poll(router: Router, close_id: str, until: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = router.call("GET", f"/v1/closes/{close_id}")
        if until(body):
            return body
        assert time.monotonic() < deadline, f"{what}: {body}"
        time.sleep(0.05)


async def _journaled(url: str, close_id: str) -> CloseView:
    journal = await Journal.open(url)
    try:
        close = await journal.get_close(close_id)
    finally:
        await journal.close()
    assert close is not None
    return close


def test_sigterm_hands_the_running_close_over_to_the_next_router(tmp_path: Path) -> None:
    journal = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    with running_simulator(tmp_path) as simulator:
        venues = tmp_path / "venues.toml"
        environ = write_venues(venues, simulator, dry_run=False)
        held_before = asyncio.run(btc_held(simulator))
        first, router_a = serve_router(tmp_path, "a", venues, environ, journal, CONFIG)
        second = None
        try:
            accepted = router_a.call(
                "POST",
                "/v1/closes",
                TRADE,
                close_body(quantity="3", urgency="0.6", idempotency_key="drain-1"),
            )
            close_id = accepted["close_id"]
            _poll(router_a, close_id, lambda b: b["fills"], "no fill came before the signal")
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=EXIT_S) == 0

            handed = asyncio.run(_journaled(journal, close_id))
            assert handed.outcome is None
            assert handed.filled_qty < Decimal(3), "the close finished before the hand-over"
            assert handed.lease_expires_at is not None
            assert handed.lease_expires_at <= datetime.now(UTC)
            log_a = (tmp_path / "a.log").read_text(encoding="utf-8")
            assert f"handed over close {close_id} (key drain-1" in log_a
            assert "still running after" not in log_a  # stopped at a wave's end, not cut

            second, router_b = serve_router(tmp_path, "b", venues, environ, journal, CONFIG)
            running = _poll(
                router_b,
                close_id,
                lambda b: b["running"] or b["outcome"] is not None,
                "the successor did not resume the close",
            )
            assert running["running"] is True, running
            assert running["outcome"] is None
            body = router_b.finished(close_id, timeout_s=110)
        finally:
            if second is not None:
                stop(second)
            stop(first)
        held_after = asyncio.run(btc_held(simulator))

    assert body["outcome"] == "FLAT", body
    assert Decimal(body["filled"]) == Decimal(3)
    client_ids = [a["client_order_id"] for a in body["attempts"]]
    assert len(client_ids) == len(set(client_ids))
    assert held_before - held_after == Decimal(3), "the venues sold more than the close"
    log_b = (tmp_path / "b.log").read_text(encoding="utf-8")
    assert "keeper: resuming close drain-1" in log_b


async def test_requests_that_act_are_refused_while_draining(api: Api) -> None:
    handed = await api.state.drain(5)
    assert handed == []
    response = await api.post("/v1/closes", json=close_body(idempotency_key="drain-2"))
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert (await response.json())[
        "error"
    ] == "the service is shutting down: retry on another router"
    unwind = await api.post("/v1/hedges/1/unwind", json={})
    assert unwind.status == 503
    # reads are still answered until the service stops
    assert (await api.get("/v1/venues")).status == 200
    assert (await api.get("/v1/closes?limit=1")).status == 200
