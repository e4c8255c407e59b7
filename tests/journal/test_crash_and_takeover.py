"""Killed processes: recovery reaches the true state; a second router takes a close over."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from router.core.orders import OrderState
from router.engine.recovery import recover
from router.journal.repository import Journal
from tests.journal.crash_worker import CLIENT_ID
from tests.journal.file_venue import FileVenue

ROOT = Path(__file__).resolve().parents[2]


def _spawn(url: str, mode: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.journal.crash_worker", url, mode, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
    )


async def _wait_ready(process: subprocess.Popen[bytes], marker: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text():
            return marker.read_text()
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"worker exited early: {stderr}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"{marker.name} never appeared")


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.parametrize("mode", ["after-intent", "after-send"])
async def test_kill_then_recover_reaches_the_true_state(
    db_url: str, engine: AsyncEngine, tmp_path: Path, mode: str
) -> None:
    worker = _spawn(db_url, mode, tmp_path)
    close_id = await _wait_ready(worker, tmp_path / f"{mode}.ready")
    _kill(worker)
    venue = FileVenue(tmp_path / "venue.jsonl")
    clock_now = Journal(engine).clock() + timedelta(seconds=5)
    journal = Journal(engine, owner="restarted", clock=lambda: clock_now)
    try:
        before = await journal.attempt(CLIENT_ID)
        assert before is not None
        expected_state = OrderState.PENDING_SEND if mode == "after-intent" else OrderState.SENT
        assert before.state is expected_state
        [result] = (await recover(journal, venue)).closes
        after = await journal.attempt(CLIENT_ID)
        assert after is not None
        if mode == "after-intent":
            assert venue.records() == []
            assert after.state is OrderState.REJECTED
            assert result.filled_qty == 0
        else:
            assert after.state is OrderState.FILLED
            assert after.filled_qty == Decimal(1)
            fills = await journal.fills(close_id)
            assert sorted(f.quantity for f in fills) == [Decimal("0.4"), Decimal("0.6")]
            assert result.remaining == 0
        assert result.resumable
        assert await journal.in_flight(close_id) == []
    finally:
        await journal._writer.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_second_router_takes_over_after_the_lease_expires(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Several routers share a journal on PostgreSQL (SQLite is one machine's file)."""
    owner = _spawn(db_url, "owner", tmp_path)
    close_id = await _wait_ready(owner, tmp_path / "owner.ready")
    taker = _spawn(db_url, "taker", tmp_path)
    try:
        await asyncio.sleep(1.5)
        assert not (tmp_path / "taker.ready").exists(), "took over while the owner was alive"
        killed_at = time.monotonic()
        _kill(owner)
        report = json.loads(await _wait_ready(taker, tmp_path / "taker.ready"))
        waited = time.monotonic() - killed_at
    finally:
        if taker.poll() is None:
            _kill(taker)
        if owner.poll() is None:
            _kill(owner)
    assert report["close_id"] == close_id
    assert report["refused"] > 0
    assert waited > 0.5
    venue = FileVenue(tmp_path / "venue.jsonl")
    assert [r["client_order_id"] for r in venue.records()] == [CLIENT_ID]
    journal = Journal(engine)
    try:
        close = await journal.get_close(close_id)
        assert close is not None
        assert (close.outcome, close.filled_qty, close.residual_qty) == ("FLAT", 1, 0)
        assert len(await journal.fills(close_id)) == 2
        assert len(await journal.attempts(close_id)) == 1
    finally:
        await journal._writer.close()
