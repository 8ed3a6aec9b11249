"""story linking state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 14:09:42.757596
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_boilerplate",
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("sentence_key", sa.String(length=16), nullable=False),
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source", "sentence_key", name=op.f("pk_story_boilerplate")),
    )
    op.create_table(
        "story_df",
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("df", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_story_df")),
    )
    op.create_table(
        "story_merges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("old_story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("new_story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_merges")),
    )
    with op.batch_alter_table("story_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_story_merges_new_story_id"), ["new_story_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_story_merges_old_story_id"), ["old_story_id"], unique=False)

    op.create_table(
        "story_terms",
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("first_time", sa.Float(), nullable=False),
        sa.Column("last_time", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("term", "story_id", name=op.f("pk_story_terms")),
    )
    with op.batch_alter_table("story_terms", schema=None) as batch_op:
        batch_op.create_index("ix_story_terms_story", ["story_id"], unique=False)
        batch_op.create_index("ix_story_terms_term_last", ["term", "last_time"], unique=False)

    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.create_index("ix_stories_merged_into", ["merged_into"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index("ix_stories_merged_into")

    with op.batch_alter_table("story_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_story_terms_term_last")
        batch_op.drop_index("ix_story_terms_story")

    op.drop_table("story_terms")
    with op.batch_alter_table("story_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_story_merges_old_story_id"))
        batch_op.drop_index(batch_op.f("ix_story_merges_new_story_id"))

    op.drop_table("story_merges")
    op.drop_table("story_df")
    op.drop_table("story_boilerplate")
