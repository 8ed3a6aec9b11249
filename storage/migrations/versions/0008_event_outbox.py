"""event outbox: events written in the transaction of the change, relayed to Redis Streams

Revision ID: 0008_event_outbox
Revises: 0007
Create Date: 2026-12-06 08:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0008_event_outbox"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_delivery_at", UTCDateTime(), nullable=True),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_outbox_event_id")),
    )
    published = sa.column("published_at", UTCDateTime())
    delivered = sa.column("delivered_at", UTCDateTime())
    op.create_index(
        "ix_event_outbox_unpublished",
        "event_outbox",
        ["seq"],
        postgresql_where=published.is_(None),
        sqlite_where=published.is_(None),
    )
    op.create_index(
        "ix_event_outbox_undelivered",
        "event_outbox",
        ["seq"],
        postgresql_where=delivered.is_(None),
        sqlite_where=delivered.is_(None),
    )
    op.create_index("ix_event_outbox_subject_seq", "event_outbox", ["subject", "seq"])
    op.create_index("ix_event_outbox_occurred_at", "event_outbox", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_event_outbox_occurred_at", table_name="event_outbox")
    op.drop_index("ix_event_outbox_subject_seq", table_name="event_outbox")
    op.drop_index("ix_event_outbox_undelivered", table_name="event_outbox")
    op.drop_index("ix_event_outbox_unpublished", table_name="event_outbox")
    op.drop_table("event_outbox")
