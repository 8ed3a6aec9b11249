"""articles: the publisher's UTC offset for published_at

Revision ID: 0011_published_offset
Revises: 0010_entries_feed_recent
Create Date: 2026-12-06 18:10:00

A page that states "2023-05-12T21:30:00-04:00" was published on 12 May by its publisher's
calendar, 13 May in UTC. The instant stays in ``published_at`` (UTC); the offset is kept so
exports can show the publisher's own clock and day. Rows stored before have none (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_published_offset"
down_revision: str | Sequence[str] | None = "0010_entries_feed_recent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("published_offset_minutes", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("published_offset_minutes")
