"""Holdings: each close's position per venue (held at start, or unknown and why); what
inventory each hedge covers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import router.journal.types

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holdings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("close_id", sa.String(length=32), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("held", router.journal.types.ExactDecimal(), nullable=True),
        sa.Column("unknown_reason", sa.Text(), nullable=True),
        sa.Column("stuck", sa.Boolean(), nullable=False),
        sa.Column("left_reason", sa.Text(), nullable=True),
        sa.Column("resolved_at", router.journal.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["close_id"], ["closes.id"], name=op.f("fk_holdings_close_id_closes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdings")),
        sa.UniqueConstraint("close_id", "venue", name=op.f("uq_holdings_close_id_venue")),
    )
    op.create_index(op.f("ix_holdings_close_id"), "holdings", ["close_id"], unique=False)
    with op.batch_alter_table("hedges") as batch:
        batch.add_column(
            sa.Column("covers_json", sa.Text(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("hedges") as batch:
        batch.drop_column("covers_json")
    op.drop_index(op.f("ix_holdings_close_id"), table_name="holdings")
    op.drop_table("holdings")
