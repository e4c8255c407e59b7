"""Guard mode inside the service: a position already past its stop tier is closed at once."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from router.cli import app
from router.core.guard import GuardedPosition
from router.engine.guard import Guard
from router.journal.models import Close
from tests.service.conftest import Api

ENTRY = Decimal(80_000)
"""Far above the simulated price (60,000): the position is 25% under water from the start."""


async def test_guard_closes_a_position_below_its_stop(api: Api) -> None:
    position = GuardedPosition("core-btc", "BTC", "long", ENTRY, Decimal(2))
    guard = Guard(api.world.engine, [position], quote="USDT")
    task = api.state.watch(guard, 5.0)
    deadline = time.monotonic() + 30
    while not guard.results:
        assert not task.done(), "the guard stopped"
        assert time.monotonic() < deadline, "the guard did not close the position"
        await asyncio.sleep(0.01)
    close_id = guard.results[0].close_id
    body = await api.finished(close_id)
    assert body["idempotency_key"].startswith("guard-core-btc-")
    assert body["outcome"] is not None
    async with api.world.journal.engine.connect() as conn:
        keys = (await conn.execute(select(Close.idempotency_key))).scalars().all()
    assert any(key.startswith("guard-core-btc-") for key in keys)
    await api.state.shutdown()
    assert task.done()


def test_serve_refuses_a_bad_guard_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROUTER_API_TOKENS", "read-token-0123456789:read")
    config = tmp_path / "guard.toml"
    config.write_text('poll_s = "5"\nsurprise = 1\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", "--scenario", "calm", "--guard", str(config)])
    assert result.exit_code == 2
    assert "surprise" in result.output


async def test_serve_with_a_guard_closes_the_position(tmp_path: Path) -> None:
    """``router serve --scenario calm --guard FILE``: the guard's close is served by GET."""
    config = tmp_path / "guard.toml"
    config.write_text(
        'poll_s = "1"\n\n[[positions]]\nname = "core-btc"\nsymbol = "BTC"\nside = "long"\n'
        f'entry_price = "{ENTRY}"\nquantity = "1"\n',
        encoding="utf-8",
    )
    token = "read-token-0123456789abcdef"
    env = {**os.environ, "ROUTER_API_TOKENS": f"{token}:read"}
    db = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    args = ["serve", "--scenario", "calm", "--port", "0", "--db", db, "--guard", str(config)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "router.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        base = line.split()[3]
        assert base.startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession(headers=headers) as session:
            while True:
                assert time.monotonic() < deadline, "no guard close was served"
                close_id = await _guard_close(db)
                if close_id is not None:
                    async with session.get(f"{base}/v1/closes/{close_id}") as response:
                        body = await response.json()
                    if body["outcome"] is not None:
                        break
                await asyncio.sleep(0.2)
        assert body["idempotency_key"].startswith("guard-core-btc-")
        assert body["reason"]
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def _guard_close(db: str) -> str | None:
    from router.journal.repository import Journal

    journal = await Journal.open(db)
    try:
        async with journal.engine.connect() as conn:
            rows = await conn.execute(
                select(Close.id).where(Close.idempotency_key.like("guard-core-btc-%"))
            )
            return rows.scalars().first()
    finally:
        await journal.close()
