"""The journal rides out its database going away: dropped connections, a server down."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from router.core.orders import OrderState
from router.journal.db import make_engine
from router.journal.outage import is_outage
from router.journal.records import AttemptIntent, NewClose
from router.journal.repository import Journal, OutcomeUpdate
from router.journal.writer import GroupCommitWriter
from tests.journal.conftest import PG_HOST, PG_PORT, PG_USER, empty_postgres_schema

D = Decimal


def test_what_counts_as_an_outage() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed")
    assert is_outage(refused)
    assert is_outage(OperationalError("SELECT 1", {}, refused))
    assert is_outage(OperationalError("INSERT", {}, Exception("database is locked")))
    assert not is_outage(OperationalError("SELECT", {}, Exception("no such table: closes")))
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate key value")))
    assert not is_outage(ValueError("not a database error"))


async def _terminate_other_sessions(database: str) -> int:
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    return len(rows)


async def test_writes_and_reads_survive_dropped_connections(postgres_database: str) -> None:
    """PostgreSQL only: SQLite has no server connection to lose."""
    db_url = postgres_database
    empty_postgres_schema(db_url.rsplit("/", 1)[1])
    journal = await Journal.open(db_url)
    try:
        close, _ = await journal.create_close(
            NewClose(f"outage-{uuid.uuid4().hex}", "BTCUSDT", "sell", D(1), {"quantity": "1"})
        )
        assert await journal.get_close(close.id) is not None  # a pooled read connection
        assert await _terminate_other_sessions(db_url.rsplit("/", 1)[1]) >= 1
        client_id = f"c-{uuid.uuid4().hex[:12]}"
        await journal.record_intent(
            AttemptIntent(client_id, close.id, 1, 0, "alpha", "spot", "BTCUSDT", "sell", D(1), D(1))
        )
        await journal.record_outcome(client_id, OutcomeUpdate(OrderState.SENT))
        assert await _terminate_other_sessions(db_url.rsplit("/", 1)[1]) >= 1
        [attempt] = await journal.attempts(close.id)
        assert attempt.state is OrderState.SENT
    finally:
        await journal.close()


async def test_an_outage_longer_than_the_limit_reaches_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(f"postgresql+asyncpg://{PG_USER}@127.0.0.1:9/none")
    writer = GroupCommitWriter(engine, {}, outage_s=0.3)

    async def work(_: object) -> None:
        return None

    try:
        with (
            caplog.at_level(logging.WARNING, logger="router.journal.outage"),
            pytest.raises(OSError, match=r"Connect call failed|refused"),
        ):
            await writer.call(work)  # type: ignore[arg-type]
    finally:
        await writer.close()
        await engine.dispose()
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) >= 2
