"""The write-ahead journal API the engine uses.

Every write goes through the group-commit writer and returns only once committed:
an intent recorded is durable before the order is sent. Fills are stored once per
venue, market and trade id however often they are reported. Reads return plain
frozen records, never live ORM objects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from router.core.lifecycle import CloseOutcome, CloseState, HedgeState
from router.core.orders import IllegalTransition, OrderState, transition
from router.core.position import VenueHolding
from router.core.purpose import Purpose
from router.journal.db import make_engine
from router.journal.models import (
    Attempt,
    BookSnapshot,
    Close,
    Fill,
    Hedge,
    Holding,
    LiquidityEvent,
    VenueEvent,
)
from router.journal.outage import ride_out
from router.journal.records import (
    AttemptIntent,
    AttemptView,
    BookLevels,
    CloseView,
    FillRecord,
    NewClose,
    attempt_view,
    close_view,
    fill_record,
)
from router.journal.scrub import scrub
from router.journal.types import QUANTUM, WIDE
from router.journal.writer import GroupCommitWriter

CLOSES = cast(Table, Close.__table__)
ATTEMPTS = cast(Table, Attempt.__table__)
FILLS = cast(Table, Fill.__table__)
HEDGES = cast(Table, Hedge.__table__)
HOLDINGS = cast(Table, Holding.__table__)
T = TypeVar("T")

ZERO = Decimal(0)
IN_FLIGHT = (
    OrderState.PENDING_SEND,
    OrderState.SENT,
    OrderState.UNKNOWN,
    OrderState.OPEN,
    OrderState.PARTIALLY_FILLED,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class UnknownRecord(LookupError):
    """The journal has no such close or attempt: a bug in the caller, not the market."""


@dataclass(frozen=True, slots=True)
class OutcomeUpdate:
    """What became of an attempt: its new state and anything the venue told us."""

    state: OrderState
    exchange_order_id: str | None = None
    filled_qty: Decimal | None = None
    error_class: str | None = None
    error_message: str | None = None


class Journal:
    """The journal of one router process (``owner`` names it in leases)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.owner = owner or f"router-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self.handing_over = False
        """Set once this router hands its closes over (:meth:`hand_over`): from then on
        it claims and renews no lease."""
        self._writer = GroupCommitWriter(
            engine,
            {
                "intent": self._write_intents,
                "outcome": self._write_outcomes,
                "fills": self._write_fills,
            },
        )

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> Journal:
        """Connect and bring the schema to the latest revision (creating it on first use)."""
        from router.journal.migrate import ensure_schema

        engine = make_engine(url)
        await ensure_schema(engine)
        return cls(engine, owner=owner, clock=clock)

    async def close(self) -> None:
        await self._writer.close()
        await self.engine.dispose()

    @property
    def commits(self) -> int:
        return self._writer.commits

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # ---------------------------------------------------------------- closes

    async def create_close(self, new: NewClose) -> tuple[CloseView, bool]:
        """Record a close request; the same idempotency key returns the first one."""
        now = self.clock()

        async def work(conn: AsyncConnection) -> tuple[CloseView, bool]:
            found = (
                await conn.execute(
                    select(CLOSES).where(CLOSES.c.idempotency_key == new.idempotency_key)
                )
            ).first()
            if found is not None:
                return close_view(found), False
            row = (
                await conn.execute(
                    insert(CLOSES)
                    .values(
                        id=new.close_id or f"cl_{uuid.uuid4().hex[:24]}",
                        idempotency_key=new.idempotency_key,
                        symbol=new.symbol,
                        side=new.side,
                        requested_qty=new.quantity,
                        request_json=json.dumps(scrub(new.request), sort_keys=True, default=str),
                        state=CloseState.ACCEPTED.value,
                        reference_price=new.reference_price,
                        filled_qty=ZERO,
                        hedged_qty=ZERO,
                        owner=self.owner,
                        lease_expires_at=now + new.lease,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(CLOSES)
                )
            ).one()
            if new.holdings:
                await conn.execute(
                    insert(HOLDINGS), holding_rows(row.id, new.asset, new.holdings, now)
                )
            return close_view(row), True

        try:
            return await self._writer.call(work)
        except Exception:
            existing = await self.close_by_key(new.idempotency_key)
            if existing is None:
                raise
            return existing, False

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one committed transaction, riding out a database outage."""
        result: T = await self._writer.call(work)
        return result

    async def read(self, query: Any) -> list[Any]:
        """The rows of ``query``, riding out a database outage."""
        return await self._rows(query)

    async def _rows(self, query: Any) -> list[Any]:
        async for attempt in ride_out(self._writer.outage_s):
            with attempt:
                async with self.engine.connect() as conn:
                    return list((await conn.execute(query)).all())
        raise AssertionError("tenacity ended without a result or an exception")

    async def get_close(self, close_id: str) -> CloseView | None:
        rows = await self._rows(select(CLOSES).where(CLOSES.c.id == close_id))
        return close_view(rows[0]) if rows else None

    async def close_by_key(self, key: str) -> CloseView | None:
        rows = await self._rows(select(CLOSES).where(CLOSES.c.idempotency_key == key))
        return close_view(rows[0]) if rows else None

    async def unfinished_closes(self) -> list[CloseView]:
        rows = await self._rows(
            select(CLOSES).where(CLOSES.c.outcome.is_(None)).order_by(CLOSES.c.created_at)
        )
        return [close_view(r) for r in rows]

    async def update_close(
        self,
        close_id: str,
        *,
        state: CloseState | None = None,
        reference_price: Decimal | None = None,
        filled_qty: Decimal | None = None,
        hedged_qty: Decimal | None = None,
        reason: str | None = None,
        requested_qty: Decimal | None = None,
    ) -> None:
        now = self.clock()
        values: dict[str, Any] = {"updated_at": now}
        for key, value in (
            ("requested_qty", requested_qty),
            ("state", None if state is None else CloseState(state).value),
            ("reference_price", reference_price),
            ("filled_qty", filled_qty),
            ("hedged_qty", hedged_qty),
            ("outcome_reason", reason),
        ):
            if value is not None:
                values[key] = value
        await self._update(Close, Close.id == close_id, values)

    async def finish_close(
        self,
        close_id: str,
        outcome: CloseOutcome,
        *,
        filled_qty: Decimal,
        hedged_qty: Decimal,
        residual_qty: Decimal,
        reason: str,
    ) -> None:
        """State the close's outcome (FLAT, HEDGED or STRANDED) and release its lease."""
        outcome = _outcome(outcome)
        now = self.clock()
        await self._update(
            Close,
            Close.id == close_id,
            {
                "state": CloseState.DONE.value,
                "outcome": outcome.value,
                "outcome_reason": reason,
                "filled_qty": filled_qty,
                "hedged_qty": hedged_qty,
                "residual_qty": residual_qty,
                "finished_at": now,
                "updated_at": now,
                "owner": None,
                "lease_expires_at": None,
            },
        )

    async def restate_outcome(
        self,
        close_id: str,
        outcome: CloseOutcome,
        *,
        filled_qty: Decimal,
        hedged_qty: Decimal,
        residual_qty: Decimal,
        reason: str,
    ) -> None:
        """Correct a finished close's outcome once orders it left in doubt are known."""
        outcome = _outcome(outcome)
        await self._update(
            Close,
            Close.id == close_id,
            {
                "outcome": outcome.value,
                "outcome_reason": reason,
                "filled_qty": filled_qty,
                "hedged_qty": hedged_qty,
                "residual_qty": residual_qty,
                "updated_at": self.clock(),
            },
        )

    async def _update(self, model: type[Any], where: Any, values: dict[str, Any]) -> None:
        async def work(conn: AsyncConnection) -> None:
            result = await conn.execute(update(model).where(where).values(**values))
            if result.rowcount == 0:
                raise UnknownRecord(f"no {model.__tablename__} row matches {where}")

        await self._writer.call(work)

    # ---------------------------------------------------------------- leases

    async def claim(self, close_id: str, ttl: timedelta) -> bool:
        """Take (or keep) ownership of an unfinished close; False if another process holds it.

        A compare-and-set UPDATE: it succeeds only if nobody owns the close, we already
        do, or the owner's lease has expired. One statement, so two processes can never
        both win (PostgreSQL locks the row and re-checks the condition). Always False
        once this router is handing its closes over.
        """
        if self.handing_over:
            return False
        now = self.clock()

        async def work(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(Close)
                .where(
                    Close.id == close_id,
                    Close.outcome.is_(None),
                    or_(
                        Close.owner.is_(None),
                        Close.owner == self.owner,
                        Close.lease_expires_at < now,
                    ),
                )
                .values(owner=self.owner, lease_expires_at=now + ttl, updated_at=now)
            )
            return bool(result.rowcount)

        return await self._writer.call(work)

    async def release(self, close_id: str) -> None:
        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                update(Close)
                .where(Close.id == close_id, Close.owner == self.owner)
                .values(owner=None, lease_expires_at=None)
            )

        await self._writer.call(work)

    def hand_over(self) -> None:
        """Claim nothing any more (this router is shutting down): running closes stop
        renewing their leases and stop at their next wave; nothing new is taken over.
        :meth:`release_owned` then lets a successor take the closes over at once."""
        self.handing_over = True

    async def release_owned(self) -> list[CloseView]:
        """End this router's leases on its unfinished closes now (the lease expires at
        once; ``owner`` still names this router), so that any router's keeper takes them
        over without waiting for the lease to run out. The closes released."""
        now = self.clock()
        mine = (CLOSES.c.outcome.is_(None), CLOSES.c.owner == self.owner)

        async def work(conn: AsyncConnection) -> list[CloseView]:
            rows = (
                await conn.execute(select(CLOSES).where(*mine).order_by(CLOSES.c.created_at))
            ).all()
            if rows:
                await conn.execute(
                    update(CLOSES).where(*mine).values(lease_expires_at=now, updated_at=now)
                )
            return [close_view(row) for row in rows]

        return await self._writer.call(work)

    async def claimable(self) -> list[str]:
        """Unfinished closes nobody holds (or whose owner stopped renewing)."""
        now = self.clock()
        rows = await self._rows(
            select(CLOSES.c.id)
            .where(
                CLOSES.c.outcome.is_(None),
                or_(
                    CLOSES.c.owner.is_(None),
                    CLOSES.c.owner == self.owner,
                    CLOSES.c.lease_expires_at < now,
                ),
            )
            .order_by(CLOSES.c.created_at)
        )
        return [row.id for row in rows]

    # ---------------------------------------------------------------- attempts

    async def record_intent(self, intent: AttemptIntent) -> AttemptView:
        """Write-ahead: the order exists in the journal (PENDING_SEND) before it is sent."""
        now = self.clock()

        values = {
            "client_order_id": intent.client_order_id,
            "close_id": intent.close_id,
            "hedge_id": intent.hedge_id,
            "purpose": Purpose(intent.purpose).value,
            "wave": intent.wave,
            "tier": intent.tier,
            "venue": intent.venue,
            "market": intent.market,
            "symbol": intent.symbol,
            "side": intent.side,
            "quantity": intent.quantity,
            "limit_price": intent.limit_price,
            "style": intent.style,
            "reduce_only": intent.reduce_only,
            "state": OrderState.PENDING_SEND.value,
            "filled_qty": ZERO,
            "intent_at": now,
        }

        view: AttemptView = await self._writer.submit("intent", values)
        return view

    async def _write_intents(
        self, conn: AsyncConnection, batch: Sequence[dict[str, Any]]
    ) -> list[Any]:
        statement = insert(ATTEMPTS).returning(ATTEMPTS.c.id, ATTEMPTS.c.client_order_id)
        result = await conn.execute(statement, list(batch))
        ids = {client_id: row_id for row_id, client_id in result}
        return [_intent_view(ids[values["client_order_id"]], values) for values in batch]

    async def mark_sent(self, client_order_id: str) -> None:
        await self.record_outcome(client_order_id, OutcomeUpdate(OrderState.SENT))

    async def record_outcome(
        self,
        client_order_id: str,
        outcome: OutcomeUpdate,
        fills: Sequence[FillRecord] = (),
    ) -> OrderState:
        """Move an attempt to a new state and store the fills that came with the answer.

        The move is checked against the order state machine with the row locked, so no
        illegal transition is ever stored; re-recording the current state is a no-op.
        Raises :class:`UnknownRecord` or :class:`IllegalTransition`.
        """
        state: OrderState = await self._writer.submit(
            "outcome", (client_order_id, outcome, tuple(fills), self.clock())
        )
        return state

    async def _write_outcomes(
        self,
        conn: AsyncConnection,
        batch: Sequence[tuple[str, OutcomeUpdate, tuple[FillRecord, ...], datetime]],
    ) -> list[Any]:
        wanted = {client_id for client_id, _, _, _ in batch}
        query = select(
            ATTEMPTS.c.client_order_id,
            ATTEMPTS.c.state,
            ATTEMPTS.c.exchange_order_id,
            ATTEMPTS.c.filled_qty,
            ATTEMPTS.c.error_class,
            ATTEMPTS.c.error_message,
            ATTEMPTS.c.sent_at,
            ATTEMPTS.c.acked_at,
            ATTEMPTS.c.final_at,
        ).where(ATTEMPTS.c.client_order_id.in_(wanted))
        if self.dialect == "postgresql":
            query = query.with_for_update()
        current = {row.client_order_id: dict(row._mapping) for row in await conn.execute(query)}
        results: list[Any] = []
        changed: dict[str, dict[str, Any]] = {}
        fills: list[tuple[FillRecord, ...]] = []
        for client_id, outcome, attempt_fills, now in batch:
            row = current.get(client_id)
            if row is None:
                results.append(UnknownRecord(f"no attempt with client order id {client_id}"))
                continue
            try:
                _apply_outcome(row, outcome, now)
            except IllegalTransition as exc:
                results.append(exc)
                continue
            changed[client_id] = row
            fills.append(attempt_fills)
            results.append(outcome.state)
        if changed:
            statement = (
                update(ATTEMPTS)
                .where(ATTEMPTS.c.client_order_id == bindparam("b_client_order_id"))
                .values({name: bindparam(f"b_{name}") for name in _OUTCOME_COLUMNS})
            )
            await conn.execute(
                statement,
                [
                    {"b_client_order_id": client_id, **{f"b_{n}": row[n] for n in _OUTCOME_COLUMNS}}
                    for client_id, row in changed.items()
                ],
            )
        if any(fills):
            await self._write_fills(conn, [(group, batch[0][3]) for group in fills if group])
        return results

    async def record_fills(self, fills: Sequence[FillRecord]) -> int:
        """Store fills; a fill already journaled (same venue, market, trade id) is skipped.

        Returns how many were new.
        """
        if not fills:
            return 0
        inserted: int = await self._writer.submit("fills", (tuple(fills), self.clock()))
        return inserted

    async def _write_fills(
        self, conn: AsyncConnection, batch: Sequence[tuple[tuple[FillRecord, ...], datetime]]
    ) -> list[Any]:
        owners: dict[tuple[str, str, str], int] = {}
        rows: list[dict[str, Any]] = []
        client_ids = {f.client_order_id for group, _ in batch for f in group if f.client_order_id}
        attempt_ids = await _attempt_ids(conn, client_ids)
        for index, (group, now) in enumerate(batch):
            for fill in group:
                key = (fill.venue, fill.market, fill.trade_id)
                if key in owners:
                    continue
                owners[key] = index
                rows.append(_fill_row(fill, attempt_ids, now))
        counts = [0] * len(batch)
        if rows:
            dialect_insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
            statement = (
                dialect_insert(FILLS)
                .on_conflict_do_nothing(index_elements=["venue", "market", "trade_id"])
                .returning(FILLS.c.venue, FILLS.c.market, FILLS.c.trade_id)
            )
            for venue, market, trade_id in await conn.execute(statement, rows):
                counts[owners[(venue, market, trade_id)]] += 1
        return list(counts)

    async def attempt(self, client_order_id: str) -> AttemptView | None:
        rows = await self._rows(
            select(ATTEMPTS).where(ATTEMPTS.c.client_order_id == client_order_id)
        )
        return attempt_view(rows[0]) if rows else None

    async def attempts(self, close_id: str) -> list[AttemptView]:
        return await self._attempts(select(ATTEMPTS).where(ATTEMPTS.c.close_id == close_id))

    async def in_flight(self, close_id: str | None = None) -> list[AttemptView]:
        """Attempts whose outcome is not final: the quantity that may still trade."""
        query = select(ATTEMPTS).where(ATTEMPTS.c.state.in_([s.value for s in IN_FLIGHT]))
        if close_id is not None:
            query = query.where(ATTEMPTS.c.close_id == close_id)
        return await self._attempts(query)

    async def in_flight_of_finished(self) -> list[AttemptView]:
        """Non-final attempts of closes that already stated an outcome: orders a close
        left in doubt (its venue could not be reached before it ended)."""
        finished = select(CLOSES.c.id).where(CLOSES.c.outcome.is_not(None))
        query = select(ATTEMPTS).where(
            ATTEMPTS.c.state.in_([s.value for s in IN_FLIGHT]),
            ATTEMPTS.c.close_id.in_(finished),
        )
        return await self._attempts(query)

    async def _attempts(self, query: Select[Any]) -> list[AttemptView]:
        rows = await self._rows(query.order_by(ATTEMPTS.c.id))
        return [attempt_view(r) for r in rows]

    async def fills(self, close_id: str) -> list[FillRecord]:
        rows = await self._rows(
            select(FILLS).where(FILLS.c.close_id == close_id).order_by(FILLS.c.id)
        )
        return [fill_record(r) for r in rows]

    # ---------------------------------------------------------------- context

    async def record_books(self, close_id: str, wave: int, books: Sequence[BookLevels]) -> None:
        now = self.clock()

        rows = [
            {
                "close_id": close_id,
                "wave": wave,
                "venue": book.venue,
                "market": book.market,
                "taken_at": book.taken_at or now,
                "best_bid": book.bids[0][0] if book.bids else None,
                "best_ask": book.asks[0][0] if book.asks else None,
                "levels_json": book.compact(),
            }
            for book in books
        ]
        if not rows:
            return

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(insert(BookSnapshot), rows)

        await self._writer.call(work)

    async def record_liquidity_event(
        self,
        *,
        symbol: str,
        kind: str,
        venue: str | None = None,
        score: Decimal | None = None,
        escape_window_s: Decimal | None = None,
        close_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self._insert(
            LiquidityEvent,
            at=self.clock(),
            symbol=symbol,
            venue=venue,
            kind=kind,
            score=score,
            escape_window_s=escape_window_s,
            close_id=close_id,
            detail_json=json.dumps(scrub(detail or {}), sort_keys=True, default=str),
        )

    async def record_venue_event(
        self,
        *,
        venue: str,
        kind: str,
        detail: str = "",
        close_id: str | None = None,
        client_order_id: str | None = None,
    ) -> None:
        await self._insert(
            VenueEvent,
            at=self.clock(),
            venue=venue,
            kind=kind,
            detail=detail,
            close_id=close_id,
            client_order_id=client_order_id,
        )

    async def _insert(self, model: type[Any], **values: Any) -> Any:
        """Insert one row; return its primary key."""

        async def work(conn: AsyncConnection) -> Any:
            result = await conn.execute(insert(model).values(**values))
            return result.inserted_primary_key[0] if result.inserted_primary_key else None

        return await self._writer.call(work)

    # ---------------------------------------------------------------- hedges

    async def open_hedge(self, close_id: str, *, venue: str, symbol: str, side: str) -> int:
        hedge_id: int = await self._insert(
            Hedge,
            close_id=close_id,
            venue=venue,
            symbol=symbol,
            side=side,
            quantity=ZERO,
            unwound_qty=ZERO,
            state=HedgeState.OPENING.value,
            opened_at=self.clock(),
        )
        return hedge_id

    async def update_hedge(
        self,
        hedge_id: int,
        *,
        quantity: Decimal | None = None,
        unwound_qty: Decimal | None = None,
        average_price: Decimal | None = None,
        state: HedgeState | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        for key, value in (
            ("quantity", quantity),
            ("unwound_qty", unwound_qty),
            ("average_price", average_price),
            ("state", None if state is None else HedgeState(state).value),
        ):
            if value is not None:
                values[key] = value
        if state == HedgeState.CLOSED:
            values["closed_at"] = self.clock()
        await self._update(Hedge, Hedge.id == hedge_id, values)

    async def hedge_price(self, hedge_id: int) -> Decimal | None:
        """The volume-weighted price of a hedge's leg fills (``None`` before any)."""
        legs = select(ATTEMPTS.c.client_order_id).where(
            ATTEMPTS.c.hedge_id == hedge_id, ATTEMPTS.c.purpose == Purpose.HEDGE.value
        )
        rows = await self._rows(
            select(FILLS.c.quantity, FILLS.c.price).where(FILLS.c.client_order_id.in_(legs))
        )
        with localcontext(WIDE):
            quantity = sum((row.quantity for row in rows), ZERO)
            if quantity == 0:
                return None
            gross = sum((row.quantity * row.price for row in rows), ZERO)
            return (gross / quantity).quantize(QUANTUM)

    async def hedges(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        query = select(HEDGES).order_by(HEDGES.c.id)
        if open_only:
            query = query.where(HEDGES.c.state != HedgeState.CLOSED.value)
        return [dict(row._mapping) for row in await self._rows(query)]


_OUTCOME_COLUMNS = (
    "state",
    "exchange_order_id",
    "filled_qty",
    "error_class",
    "error_message",
    "sent_at",
    "acked_at",
    "final_at",
)


def _outcome(value: str) -> CloseOutcome:
    try:
        return CloseOutcome(value)
    except ValueError:
        raise ValueError(f"a close ends FLAT, HEDGED or STRANDED, not {value!r}") from None


def _apply_outcome(row: dict[str, Any], outcome: OutcomeUpdate, now: datetime) -> None:
    """Apply an outcome to an attempt row in memory; raises IllegalTransition."""
    current = OrderState(row["state"])
    new = outcome.state
    if new is not current or current is OrderState.PARTIALLY_FILLED:
        transition(current, new)
    row["state"] = new.value
    if outcome.exchange_order_id is not None:
        row["exchange_order_id"] = outcome.exchange_order_id
    if outcome.filled_qty is not None:
        row["filled_qty"] = outcome.filled_qty
    if outcome.error_class is not None:
        row["error_class"] = outcome.error_class
        row["error_message"] = outcome.error_message
    if new is OrderState.SENT:
        row["sent_at"] = row["sent_at"] or now
    elif new in (OrderState.OPEN, OrderState.PARTIALLY_FILLED) or (
        new.final and new is not OrderState.REJECTED
    ):
        row["acked_at"] = row["acked_at"] or now
    if new.final:
        row["final_at"] = row["final_at"] or now


def _intent_view(attempt_id: int, values: dict[str, Any]) -> AttemptView:
    return AttemptView(
        id=attempt_id,
        exchange_order_id=None,
        error_class=None,
        error_message=None,
        sent_at=None,
        acked_at=None,
        final_at=None,
        **{k: v for k, v in values.items() if k not in ("state", "purpose")},
        purpose=Purpose(values["purpose"]),
        state=OrderState.PENDING_SEND,
    )


def _fill_row(fill: FillRecord, attempt_ids: dict[str, int], now: datetime) -> dict[str, Any]:
    return {
        "close_id": fill.close_id,
        "attempt_id": attempt_ids.get(fill.client_order_id or ""),
        "client_order_id": fill.client_order_id,
        "venue": fill.venue,
        "market": fill.market,
        "trade_id": fill.trade_id,
        "exchange_order_id": fill.exchange_order_id,
        "side": fill.side,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "traded_at": fill.traded_at,
        "recorded_at": now,
    }


async def _attempt_ids(conn: AsyncConnection, client_ids: set[str]) -> dict[str, int]:
    wanted = [c for c in client_ids if c]
    if not wanted:
        return {}
    rows = await conn.execute(
        select(ATTEMPTS.c.client_order_id, ATTEMPTS.c.id).where(
            ATTEMPTS.c.client_order_id.in_(wanted)
        )
    )
    return {client_id: attempt_id for client_id, attempt_id in rows}


def holding_rows(
    close_id: str, asset: str, holdings: Sequence[VenueHolding], now: datetime
) -> list[dict[str, Any]]:
    """``holdings`` rows of a close's position as resolved at ``now``."""
    return [
        {
            "close_id": close_id,
            "venue": h.venue,
            "asset": asset,
            "held": h.held,
            "unknown_reason": None if h.held is not None else (h.unknown_reason or "unknown"),
            "stuck": False,
            "left_reason": None,
            "resolved_at": now if h.held is not None else None,
        }
        for h in holdings
    ]
