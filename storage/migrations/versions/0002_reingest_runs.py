"""re-ingest runs and their per-article progress

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 13:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reingest_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("refetch_feeds", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("enqueued", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reingest_runs")),
    )
    op.create_table(
        "reingest_items",
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["reingest_runs.id"], name=op.f("fk_reingest_items_run_id_reingest_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "article_id", name=op.f("pk_reingest_items")),
    )
    with op.batch_alter_table("reingest_items", schema=None) as batch_op:
        batch_op.create_index("ix_reingest_items_run_state", ["run_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reingest_items", schema=None) as batch_op:
        batch_op.drop_index("ix_reingest_items_run_state")
    op.drop_table("reingest_items")
    op.drop_table("reingest_runs")
