"""each outlet's articles and the cities they name, for its home city (story linking)

Revision ID: 0014_story_sources
Revises: 0013_story_write_cost
Create Date: 2026-12-07 19:00:00

A local outlet's articles that name no city are about its own city. ``story_sources`` counts an
outlet's linked articles and the cities they name (its most named ones), and the linker reads
the row with its document statistics (``worker.stories.evidence.home_city``). Articles linked
before this revision are not counted: the tally starts with the next article of each outlet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_story_sources"
down_revision: str | Sequence[str] | None = "0013_story_write_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_sources",
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("cities", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_story_sources")),
    )


def downgrade() -> None:
    op.drop_table("story_sources")
