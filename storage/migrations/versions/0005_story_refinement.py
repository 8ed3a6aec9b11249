"""story refinement: article vectors and the pending flag

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "story_vectors",
        sa.Column("article_id", _ID, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("vector", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_story_vectors_article_id_articles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_story_vectors")),
    )
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refine_pending", sa.Boolean(), server_default=sa.false(), nullable=False))
    pending = sa.column("refine_pending", sa.Boolean())
    op.create_index(
        "ix_stories_refine_pending", "stories", ["id"], postgresql_where=pending, sqlite_where=pending
    )


def downgrade() -> None:
    op.drop_index("ix_stories_refine_pending", table_name="stories")
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_column("refine_pending")
    op.drop_table("story_vectors")
