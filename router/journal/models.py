"""The journal's tables (SQLAlchemy 2 typed models).

Amounts are :class:`~router.journal.types.ExactDecimal`, times
:class:`~router.journal.types.UtcDateTime`. Every close's history can be rebuilt from
these rows alone: what was asked, each wave's books, every order intent and outcome,
every fill, every venue fault and hedge leg.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from router.journal.types import ExactDecimal, UtcDateTime

ZERO = Decimal(0)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Close(Base):
    """One close request and what became of it."""

    __tablename__ = "closes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    requested_qty: Mapped[Decimal] = mapped_column(ExactDecimal())
    request_json: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    reference_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    filled_qty: Mapped[Decimal] = mapped_column(ExactDecimal(), default=ZERO)
    hedged_qty: Mapped[Decimal] = mapped_column(ExactDecimal(), default=ZERO)
    residual_qty: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Attempt(Base):
    """One order, journaled (PENDING_SEND) before it is sent."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_close_wave", "close_id", "wave"),
        Index("ix_attempts_venue_state", "venue", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(36), unique=True)
    close_id: Mapped[str] = mapped_column(ForeignKey("closes.id"))
    hedge_id: Mapped[int | None] = mapped_column(ForeignKey("hedges.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(8))
    wave: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)
    venue: Mapped[str] = mapped_column(String(32))
    market: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    limit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    style: Mapped[str] = mapped_column(String(16))
    reduce_only: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(20), index=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    filled_qty: Mapped[Decimal] = mapped_column(ExactDecimal(), default=ZERO)
    error_class: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    intent_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    final_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Fill(Base):
    """One execution, stored once: unique per venue, market and trade id."""

    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("venue", "market", "trade_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    close_id: Mapped[str] = mapped_column(ForeignKey("closes.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"), index=True)
    client_order_id: Mapped[str | None] = mapped_column(String(36))
    venue: Mapped[str] = mapped_column(String(32))
    market: Mapped[str] = mapped_column(String(8))
    trade_id: Mapped[str] = mapped_column(String(64))
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    fee: Mapped[Decimal] = mapped_column(ExactDecimal(), default=ZERO)
    fee_asset: Mapped[str | None] = mapped_column(String(16))
    traded_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BookSnapshot(Base):
    """The top of one venue's book that a wave decided on (levels as compact JSON)."""

    __tablename__ = "book_snapshots"
    __table_args__ = (Index("ix_book_snapshots_close_wave", "close_id", "wave"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    close_id: Mapped[str] = mapped_column(ForeignKey("closes.id"))
    wave: Mapped[int] = mapped_column(Integer)
    venue: Mapped[str] = mapped_column(String(32))
    market: Mapped[str] = mapped_column(String(8))
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime())
    best_bid: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    best_ask: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    levels_json: Mapped[str] = mapped_column(Text)


class LiquidityEvent(Base):
    """A liquidity reading worth remembering: the Memory Layer's feed."""

    __tablename__ = "liquidity_events"
    __table_args__ = (Index("ix_liquidity_events_symbol_at", "symbol", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    venue: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    score: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    escape_window_s: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    close_id: Mapped[str | None] = mapped_column(ForeignKey("closes.id"))
    detail_json: Mapped[str] = mapped_column(Text, default="{}")


class VenueEvent(Base):
    """A venue fault or health change: outage, rate limit, unknown outcome, circuit."""

    __tablename__ = "venue_events"
    __table_args__ = (Index("ix_venue_events_venue_at", "venue", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    close_id: Mapped[str | None] = mapped_column(ForeignKey("closes.id"))
    client_order_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str] = mapped_column(Text, default="")


class Hedge(Base):
    """A perpetual short covering a close's unsold residual, and how much is unwound."""

    __tablename__ = "hedges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    close_id: Mapped[str] = mapped_column(ForeignKey("closes.id"), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(), default=ZERO)
    unwound_qty: Mapped[Decimal] = mapped_column(ExactDecimal(), default=ZERO)
    average_price: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    state: Mapped[str] = mapped_column(String(16), index=True)
    covers_json: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    """Whose inventory the short covers: spot venue -> quantity (JSON, decimal strings)."""
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Holding(Base):
    """What one venue held of a close's asset when the close started (``held`` is
    ``None`` while it is unknown, with the reason), and why any of it was left unsold.

    A venue whose holdings could not be read at the start keeps its row unknown until a
    read succeeds during the close; ``held`` is then what that read found (nothing of
    the close was sold there before it).
    """

    __tablename__ = "holdings"
    __table_args__ = (UniqueConstraint("close_id", "venue"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    close_id: Mapped[str] = mapped_column(ForeignKey("closes.id"), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    held: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    unknown_reason: Mapped[str | None] = mapped_column(Text)
    stuck: Mapped[bool] = mapped_column(default=False)
    """Set when the close ended with this venue unable to sell (unreachable, refusing,
    no bids): its unsold holdings are the first a hedge covers."""
    left_reason: Mapped[str | None] = mapped_column(Text)
    """Why what is left on this venue was not sold (set when the close ends)."""
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
