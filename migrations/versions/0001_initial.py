"""Initial schema: closes, attempts, fills, book snapshots, liquidity and venue events, hedges.

Revision ID: 0001
Revises: none
Create Date: 2026-11-24 11:59:23.417634
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import router.journal.types

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("requested_qty", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("request_json", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("reference_price", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("filled_qty", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("hedged_qty", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("residual_qty", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", router.journal.types.UtcDateTime(), nullable=True),
        sa.Column("created_at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", router.journal.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closes")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_closes_idempotency_key")),
    )
    op.create_index(op.f("ix_closes_created_at"), "closes", ["created_at"], unique=False)
    op.create_index(op.f("ix_closes_outcome"), "closes", ["outcome"], unique=False)
    op.create_index(op.f("ix_closes_state"), "closes", ["state"], unique=False)
    op.create_table(
        "book_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("close_id", sa.String(length=32), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("taken_at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("best_bid", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("best_ask", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("levels_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["close_id"], ["closes.id"], name=op.f("fk_book_snapshots_close_id_closes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_book_snapshots")),
    )
    op.create_index(
        "ix_book_snapshots_close_wave", "book_snapshots", ["close_id", "wave"], unique=False
    )
    op.create_table(
        "hedges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("close_id", sa.String(length=32), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("unwound_qty", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("average_price", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("closed_at", router.journal.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["close_id"], ["closes.id"], name=op.f("fk_hedges_close_id_closes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hedges")),
    )
    op.create_index(op.f("ix_hedges_close_id"), "hedges", ["close_id"], unique=False)
    op.create_index(op.f("ix_hedges_state"), "hedges", ["state"], unique=False)
    op.create_table(
        "liquidity_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("score", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("escape_window_s", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("close_id", sa.String(length=32), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["close_id"], ["closes.id"], name=op.f("fk_liquidity_events_close_id_closes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidity_events")),
    )
    op.create_index(op.f("ix_liquidity_events_at"), "liquidity_events", ["at"], unique=False)
    op.create_index(
        "ix_liquidity_events_symbol_at", "liquidity_events", ["symbol", "at"], unique=False
    )
    op.create_table(
        "venue_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("close_id", sa.String(length=32), nullable=True),
        sa.Column("client_order_id", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["close_id"], ["closes.id"], name=op.f("fk_venue_events_close_id_closes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venue_events")),
    )
    op.create_index(op.f("ix_venue_events_at"), "venue_events", ["at"], unique=False)
    op.create_index("ix_venue_events_venue_at", "venue_events", ["venue", "at"], unique=False)
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=36), nullable=False),
        sa.Column("close_id", sa.String(length=32), nullable=False),
        sa.Column("hedge_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("limit_price", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("style", sa.String(length=16), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("filled_qty", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("error_class", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("intent_at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("sent_at", router.journal.types.UtcDateTime(), nullable=True),
        sa.Column("acked_at", router.journal.types.UtcDateTime(), nullable=True),
        sa.Column("final_at", router.journal.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["close_id"], ["closes.id"], name=op.f("fk_attempts_close_id_closes")
        ),
        sa.ForeignKeyConstraint(
            ["hedge_id"], ["hedges.id"], name=op.f("fk_attempts_hedge_id_hedges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_attempts_client_order_id")),
    )
    op.create_index("ix_attempts_close_wave", "attempts", ["close_id", "wave"], unique=False)
    op.create_index(op.f("ix_attempts_hedge_id"), "attempts", ["hedge_id"], unique=False)
    op.create_index(op.f("ix_attempts_intent_at"), "attempts", ["intent_at"], unique=False)
    op.create_index(op.f("ix_attempts_state"), "attempts", ["state"], unique=False)
    op.create_index("ix_attempts_venue_state", "attempts", ["venue", "state"], unique=False)
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("close_id", sa.String(length=32), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("client_order_id", sa.String(length=36), nullable=True),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("market", sa.String(length=8), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("price", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("fee", router.journal.types.ExactDecimal(), nullable=False),
        sa.Column("fee_asset", sa.String(length=16), nullable=True),
        sa.Column("traded_at", router.journal.types.UtcDateTime(), nullable=False),
        sa.Column("recorded_at", router.journal.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_fills_attempt_id_attempts")
        ),
        sa.ForeignKeyConstraint(["close_id"], ["closes.id"], name=op.f("fk_fills_close_id_closes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint(
            "venue", "market", "trade_id", name=op.f("uq_fills_venue_market_trade_id")
        ),
    )
    op.create_index(op.f("ix_fills_attempt_id"), "fills", ["attempt_id"], unique=False)
    op.create_index(op.f("ix_fills_close_id"), "fills", ["close_id"], unique=False)
    op.create_index(op.f("ix_fills_traded_at"), "fills", ["traded_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_fills_traded_at"), table_name="fills")
    op.drop_index(op.f("ix_fills_close_id"), table_name="fills")
    op.drop_index(op.f("ix_fills_attempt_id"), table_name="fills")
    op.drop_table("fills")
    op.drop_index("ix_attempts_venue_state", table_name="attempts")
    op.drop_index(op.f("ix_attempts_state"), table_name="attempts")
    op.drop_index(op.f("ix_attempts_intent_at"), table_name="attempts")
    op.drop_index(op.f("ix_attempts_hedge_id"), table_name="attempts")
    op.drop_index("ix_attempts_close_wave", table_name="attempts")
    op.drop_table("attempts")
    op.drop_index("ix_venue_events_venue_at", table_name="venue_events")
    op.drop_index(op.f("ix_venue_events_at"), table_name="venue_events")
    op.drop_table("venue_events")
    op.drop_index("ix_liquidity_events_symbol_at", table_name="liquidity_events")
    op.drop_index(op.f("ix_liquidity_events_at"), table_name="liquidity_events")
    op.drop_table("liquidity_events")
    op.drop_index(op.f("ix_hedges_state"), table_name="hedges")
    op.drop_index(op.f("ix_hedges_close_id"), table_name="hedges")
    op.drop_table("hedges")
    op.drop_index("ix_book_snapshots_close_wave", table_name="book_snapshots")
    op.drop_table("book_snapshots")
    op.drop_index(op.f("ix_closes_state"), table_name="closes")
    op.drop_index(op.f("ix_closes_outcome"), table_name="closes")
    op.drop_index(op.f("ix_closes_created_at"), table_name="closes")
    op.drop_table("closes")
