"""Group commit: one writer task turns many callers' writes into few durable commits.

Each caller hands over a typed write (an order intent, an outcome, fills, or any other
unit of work) and awaits it. The writer takes every write waiting in the queue, runs
writes of the same kind as one multi-row statement, commits once, and only then
answers the callers: returning means durable. Fifty closes journaling at once cost a
handful of statements and one fsync instead of hundreds.

A handler may answer one write with an exception (an illegal state change, say)
without failing the others; if the batch itself fails, its writes are retried one by
one so a bad write cannot take its neighbours down. A batch that cannot reach the
database is retried whole on a fresh connection until it comes back
(:mod:`router.journal.outage`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from router.journal.outage import OUTAGE_S, is_outage, ride_out

MAX_BATCH = 512
Handler = Callable[[AsyncConnection, Sequence[Any]], Awaitable[list[Any]]]
"""Runs a group of writes of one kind; returns one result (or exception) per write."""


class JournalClosed(RuntimeError):
    """The journal was closed; nothing more can be written through it."""


@dataclass
class _Unit:
    kind: str
    payload: Any
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


async def _run_calls(conn: AsyncConnection, calls: Sequence[Any]) -> list[Any]:
    results: list[Any] = []
    for call in calls:
        results.append(await call(conn))
    return results


class GroupCommitWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        handlers: dict[str, Handler],
        max_batch: int = MAX_BATCH,
        outage_s: float = OUTAGE_S,
    ) -> None:
        self._engine = engine
        self._handlers: dict[str, Handler] = {"call": _run_calls, **handlers}
        self._order = [*handlers, "call"]
        self._max_batch = max_batch
        self.outage_s = outage_s
        self._queue: asyncio.Queue[_Unit | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._connection: AsyncConnection | None = None
        self.commits = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="journal-writer")

    async def submit(self, kind: str, payload: Any) -> Any:
        """Queue one write; return its result once the transaction holding it committed."""
        if self._closed:
            raise JournalClosed("the journal is closed")
        self.start()
        unit = _Unit(kind, payload)
        await self._queue.put(unit)
        return await unit.done

    async def call(self, work: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """Run an arbitrary unit of work in the next transaction."""
        return await self.submit("call", work)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            await self._queue.put(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        try:
            while True:
                first = await self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self._max_batch and not self._queue.empty():
                    unit = self._queue.get_nowait()
                    if unit is None:
                        stop = True
                        break
                    batch.append(unit)
                await self._commit(batch)
                if stop:
                    return
        finally:
            await self._drop_connection()

    async def _connect(self) -> AsyncConnection:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            await self._drop_connection()
            connection = self._connection = await self._engine.connect()
        return connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _durable(self, batch: list[_Unit]) -> list[tuple[_Unit, Any]]:
        """Commit the batch, riding out a database outage on fresh connections."""
        async for attempt in ride_out(self.outage_s):
            with attempt:
                try:
                    await self._connect()
                    return await self._transaction(batch)
                except Exception as exc:
                    if is_outage(exc):
                        await self._drop_connection()
                    raise
        raise AssertionError("tenacity ended without a result or an exception")

    async def _commit(self, batch: list[_Unit]) -> None:
        try:
            outcomes = await self._durable(batch)
        except Exception as exc:
            if len(batch) == 1 or is_outage(exc):
                for unit in batch:
                    _settle(unit, exc)
                return
            for unit in batch:
                await self._commit([unit])
            return
        for unit, outcome in outcomes:
            _settle(unit, outcome)

    async def _transaction(self, batch: list[_Unit]) -> list[tuple[_Unit, Any]]:
        by_kind: dict[str, list[_Unit]] = {}
        for unit in batch:
            by_kind.setdefault(unit.kind, []).append(unit)
        outcomes: list[tuple[_Unit, Any]] = []
        connection = self._connection
        assert connection is not None
        async with connection.begin():
            for kind in self._order:
                units = by_kind.get(kind)
                if not units:
                    continue
                results = await self._handlers[kind](connection, [u.payload for u in units])
                outcomes.extend(zip(units, results, strict=True))
        self.commits += 1
        return outcomes


def _settle(unit: _Unit, outcome: Any) -> None:
    if unit.done.done():
        return
    if isinstance(outcome, BaseException):
        unit.done.set_exception(outcome)
    else:
        unit.done.set_result(outcome)
