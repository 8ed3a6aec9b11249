"""entries: a feed's latest entries by one index scan

Revision ID: 0010_entries_feed_recent
Revises: 0009_story_signatures
Create Date: 2026-12-06 15:30:00

Every ingest reads the titles of its feed's 40 latest entries (site names are learned from what
they share: ``storage.repo.recent_feed_titles``). With an index on ``feed_id`` alone that is every
entry the feed ever had, sorted; ``(feed_id, id)`` reads the 40 in order and serves every lookup
by feed the old index served.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_entries_feed_recent"
down_revision: str | Sequence[str] | None = "0009_story_signatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_entries_feed_id_id", "entries", ["feed_id", "id"])
    op.drop_index("ix_entries_feed_id", table_name="entries")


def downgrade() -> None:
    op.create_index("ix_entries_feed_id", "entries", ["feed_id"])
    op.drop_index("ix_entries_feed_id_id", table_name="entries")
