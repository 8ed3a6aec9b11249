"""story signatures: each linked article's incident evidence keys

Revision ID: 0009_story_signatures
Revises: 0006_ids_never_reused (main's head when rebased; the brief gave 0005)
Create Date: 2026-12-06 09:00:00

The keys (names, places, days; worker.stories.evidence) are computed once when an article is
linked and kept beside its vector, so the refinement pass never re-reads texts. A story's own
counted keys live in its ``state`` JSON and its names, addresses and days in ``story_terms``
(prefixed ``@``), which needs no schema change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_story_signatures"
down_revision: str | Sequence[str] | None = "0006_ids_never_reused"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("story_vectors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("story_vectors", schema=None) as batch_op:
        batch_op.drop_column("evidence")
