"""The journal's migrations, on SQLite and on PostgreSQL, and the types they create."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Numeric, String, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from router.journal import migrate
from router.journal.db import make_engine, session_factory
from router.journal.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    alembic_config,
    current,
    downgrade,
    ensure_schema,
    head_revision,
    migration_options,
    upgrade,
)
from router.journal.models import NAMING, Base, Close, Hedge

JOURNAL_TABLES = frozenset(Base.metadata.tables)
BIG = Decimal("12345678901234567890.123456789012345678")
TINY = Decimal("0.000000000000000001")
INDIA = timezone(timedelta(hours=5, minutes=30))


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


def schema_diff(connection: Connection, metadata: MetaData) -> list[Any]:
    """What ``alembic revision --autogenerate`` would find between metadata and database."""
    context = MigrationContext.configure(
        connection, opts=migration_options(connection.dialect.name)
    )
    return list(compare_metadata(context, metadata))


async def diff_against(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(schema_diff, metadata)


def close_row(**overrides: Any) -> Close:
    at = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": "c1",
        "idempotency_key": "k1",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "requested_qty": Decimal(1),
        "request_json": "{}",
        "state": "NEW",
        "created_at": at,
        "updated_at": at,
    }
    values.update(overrides)
    return Close(**values)


# --- upgrade, downgrade, autogenerate ----------------------------------------------------


async def test_upgrade_to_head_creates_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert await current(engine) is None
        await upgrade(engine)
        assert await table_names(engine) == JOURNAL_TABLES | {"alembic_version"}
        assert await current(engine) == head_revision() == "0002"
    finally:
        await engine.dispose()


async def test_models_and_migrated_schema_do_not_differ(engine: AsyncEngine) -> None:
    assert await diff_against(engine, Base.metadata) == []


async def test_schema_comparison_sees_type_drift(engine: AsyncEngine) -> None:
    """The empty diff above means something: changed column types are noticed."""
    drifted = MetaData(naming_convention=NAMING)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["closes"].c.symbol.type = String(33)
    drifted.tables["fills"].c.price.type = Numeric(20, 8)

    diff = await diff_against(engine, drifted)

    changed = {
        (op[2], op[3])
        for change in diff
        if isinstance(change, list)
        for op in change
        if op[0] == "modify_type"
    }
    assert changed == {("closes", "symbol"), ("fills", "price")}


async def test_downgrade_to_base_drops_every_table_and_upgrade_restores_them(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    try:
        await upgrade(engine)
        await downgrade(engine, "base")
        assert await table_names(engine) & JOURNAL_TABLES == set()
        assert await current(engine) is None

        await upgrade(engine, "head")
        assert await table_names(engine) >= JOURNAL_TABLES
        assert await current(engine) == head_revision()
        assert await diff_against(engine, Base.metadata) == []
    finally:
        await engine.dispose()


async def test_a_journal_of_revision_0001_keeps_its_hedges_through_0002(db_url: str) -> None:
    engine = make_engine(db_url)
    at = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
    try:
        await upgrade(engine, "0001")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO closes (id, idempotency_key, symbol, side, requested_qty, "
                    "request_json, state, filled_qty, hedged_qty, created_at, updated_at) "
                    "VALUES ('c1', 'k1', 'BTC', 'sell', 2, '{}', 'DONE', 1, 1, :at, :at)"
                ),
                {"at": at},
            )
            await conn.execute(
                text(
                    "INSERT INTO hedges (close_id, venue, symbol, side, quantity, unwound_qty, "
                    "state, opened_at) VALUES ('c1', 'alpha', 'BTC/USDT:USDT', 'sell', 1, 0, "
                    "'OPEN', :at)"
                ),
                {"at": at},
            )
        await upgrade(engine, "head")
        async with engine.connect() as conn:
            covers = (await conn.execute(select(Hedge.covers_json))).scalars().all()
            holdings = (await conn.execute(text("SELECT count(*) FROM holdings"))).scalar()
        assert covers == ["{}"]
        assert holdings == 0
        await downgrade(engine, "0001")
        assert "holdings" not in await table_names(engine)
    finally:
        await engine.dispose()


async def test_ensure_schema_creates_a_fresh_sqlite_file_and_its_directory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "var" / "nested" / "journal.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await ensure_schema(engine)
        assert path.is_file()
        assert await table_names(engine) >= JOURNAL_TABLES
        assert await current(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_ensure_schema_at_head_is_a_no_op(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with session_factory(engine)() as session:
        session.add(close_row())
        await session.commit()
    upgrades: list[str] = []

    async def counting_upgrade(target: AsyncEngine, revision: str = "head") -> None:
        upgrades.append(revision)

    monkeypatch.setattr(migrate, "upgrade", counting_upgrade)

    await ensure_schema(engine)

    assert upgrades == []
    async with session_factory(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Close)) == 1


async def test_ensure_schema_from_two_engines_at_once(db_url: str) -> None:
    """Two routers starting together on one empty database both end up at head."""
    first, second = make_engine(db_url), make_engine(db_url)
    try:
        await asyncio.gather(ensure_schema(first), ensure_schema(second))
        assert await current(first) == head_revision()
        assert await table_names(second) >= JOURNAL_TABLES
    finally:
        await first.dispose()
        await second.dispose()


async def test_ensure_schema_rechecks_under_the_lock(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A router that read "never migrated" just before another one committed the first
    migration (chaos takeover seed 57: both routers started on an empty database) finds
    the schema at head under the migration lock instead of refusing the tables."""
    first, second = make_engine(db_url), make_engine(db_url)
    try:
        await ensure_schema(first)

        async def read_before_the_other_committed(_: AsyncEngine) -> None:
            return None

        monkeypatch.setattr(migrate, "current", read_before_the_other_committed)
        await ensure_schema(second)
        monkeypatch.undo()
        assert await current(second) == head_revision()
    finally:
        await first.dispose()
        await second.dispose()


async def test_ensure_schema_refuses_tables_created_without_alembic(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.tables["closes"].create)
        with pytest.raises(MigrationError, match=r"journal tables exist \(closes\)"):
            await ensure_schema(engine)
        assert await table_names(engine) == {"closes"}
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced_after_a_migration(engine: AsyncEngine) -> None:
    """SQLite migrations switch foreign keys off; the pool must get them back on."""
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    async with session_factory(engine)() as session:
        session.add(
            Hedge(
                close_id="no-such-close",
                venue="binance-usdm",
                symbol="BTCUSDT",
                side="SELL",
                state="OPEN",
                opened_at=datetime(2024, 3, 12, tzinfo=UTC),
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_ensure_schema_refuses_a_revision_it_does_not_know(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(MigrationError, match="'9999'"):
        await ensure_schema(engine)


def test_alembic_config_finds_the_migrations_and_keeps_the_url_verbatim() -> None:
    url = "postgresql+asyncpg://router:p%40ss%25word@127.0.0.1:5432/journal"
    config = alembic_config(url)
    assert config.get_main_option("sqlalchemy.url") == url
    assert Path(config.get_main_option("script_location") or "") == MIGRATIONS_DIR
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert alembic_config().get_main_option("sqlalchemy.url") is None


def render_initial_migration(connection: Connection) -> str:
    """The upgrade autogenerate would write for the models against an empty database."""
    options = migration_options(connection.dialect.name)
    context = MigrationContext.configure(connection, opts=options)
    script = produce_migrations(context, Base.metadata)
    assert script.upgrade_ops is not None
    return render_python_code(script.upgrade_ops, render_item=options["render_item"])


async def test_migrations_render_the_journal_types_by_name(tmp_path: Path) -> None:
    """Autogenerate spells the custom types as ``router.journal.types.X()``."""
    initial = (MIGRATIONS_DIR / "versions" / "0001_initial.py").read_text("utf-8")
    assert "import router.journal.types\n" in initial
    assert "router.journal.types.ExactDecimal()" in initial
    assert "router.journal.types.UtcDateTime()" in initial

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        async with engine.connect() as conn:
            code = await conn.run_sync(render_initial_migration)
    finally:
        await engine.dispose()
    assert "router.journal.types.ExactDecimal()" in code
    assert "router.journal.types.UtcDateTime()" in code
    assert "timezone=True" not in code
    assert "precision=" not in code


# --- the command lines ---------------------------------------------------------------------


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "ROUTER_JOURNAL_URL"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_upgrade_current_downgrade(db_url: str, tmp_path: Path) -> None:
    upgraded = run_cli("-m", "router.cli", "db", "upgrade", "--db", db_url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines() == [f"upgraded {db_url} to 0002 (head)"]

    reported = run_cli(
        "-m", "router.cli", "db", "current", cwd=tmp_path, env={"ROUTER_JOURNAL_URL": db_url}
    )
    assert reported.returncode == 0, reported.stderr
    assert reported.stdout.splitlines() == [f"{db_url} is at 0002 (head)"]

    downgraded = run_cli(
        "-m", "router.cli", "db", "downgrade", "base", "--db", db_url, cwd=tmp_path
    )
    assert downgraded.returncode == 0, downgraded.stderr
    assert downgraded.stdout.splitlines() == [f"downgraded {db_url} to base (no journal tables)"]

    reported = run_cli("-m", "router.cli", "db", "current", "--db", db_url, cwd=tmp_path)
    assert reported.stdout.splitlines() == [f"{db_url} is at base (no journal tables)"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["db", "current", "--db", "postgresql+asyncpg://postgres@127.0.0.1:1/nope"],
            "error: postgresql+asyncpg://postgres@127.0.0.1:1/nope: ",
        ),
        (
            ["db", "upgrade", "--db", "postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/nope"],
            "error: postgresql+asyncpg://postgres:***@127.0.0.1:1/nope: ",
        ),
        (["db", "upgrade", "--db", "not a url"], "error: invalid journal URL: "),
        (["db", "current", "--db", "nosuchdb://x/y"], "error: nosuchdb://x/y: "),
    ],
    ids=["unreachable", "password-redacted", "unparsable", "unknown-dialect"],
)
def test_cli_errors_are_one_line_and_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    result = run_cli("-m", "router.cli", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr


def test_cli_unknown_revision_exits_2(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/journal.db"
    result = run_cli("-m", "router.cli", "db", "downgrade", "nonsense", "--db", url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {url}: Can't locate revision identified by 'nonsense'"
    ]


def test_alembic_command_line_uses_the_journal_url(db_url: str, tmp_path: Path) -> None:
    """``alembic -c migrations/alembic.ini`` works too, with the URL from the environment."""
    ini = str(MIGRATIONS_DIR / "alembic.ini")
    env = {"ROUTER_JOURNAL_URL": db_url}

    upgraded = run_cli("-m", "alembic", "-c", ini, "upgrade", "head", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    reported = run_cli("-m", "alembic", "-c", ini, "current", cwd=tmp_path, env=env)
    assert reported.stdout.split() == ["0002", "(head)"]
    checked = run_cli("-m", "alembic", "-c", ini, "check", cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No new upgrade operations detected" in checked.stdout


# --- the column types ----------------------------------------------------------------------


async def test_decimals_survive_exactly(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        session.add(close_row(requested_qty=BIG, reference_price=TINY))
        await session.commit()
    async with session_factory(engine)() as session:
        loaded = await session.get(Close, "c1")
        assert loaded is not None
        assert isinstance(loaded.requested_qty, Decimal)
        assert loaded.requested_qty == BIG
        assert loaded.reference_price == TINY
        assert loaded.filled_qty == Decimal(0)
        assert float(BIG) != BIG


async def test_aware_times_come_back_as_the_same_instant_in_utc(engine: AsyncEngine) -> None:
    local = datetime(2024, 3, 12, 15, 30, 0, 123456, tzinfo=INDIA)
    async with session_factory(engine)() as session:
        session.add(close_row(created_at=local))
        await session.commit()
    async with session_factory(engine)() as session:
        loaded = await session.get(Close, "c1")
        assert loaded is not None
        assert loaded.created_at == local
        assert loaded.created_at.utcoffset() == timedelta(0)
        assert loaded.created_at == datetime(2024, 3, 12, 10, 0, 0, 123456, tzinfo=UTC)
        found = await session.scalar(
            select(Close.id).where(Close.created_at == local.astimezone(UTC))
        )
        assert found == "c1"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"created_at": datetime(2024, 3, 12, 10, 0)}, ValueError),
        ({"requested_qty": 1.5}, TypeError),
        ({"reference_price": Decimal("NaN")}, ValueError),
    ],
    ids=["naive-datetime", "float", "nan"],
)
async def test_unsafe_values_are_rejected(
    engine: AsyncEngine, overrides: dict[str, Any], error: type[Exception]
) -> None:
    async with session_factory(engine)() as session:
        session.add(close_row(**overrides))
        with pytest.raises(StatementError) as raised:
            await session.commit()
        assert isinstance(raised.value.orig, error)
    async with session_factory(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Close)) == 0
