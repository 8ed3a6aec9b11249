"""story linking's writes: one index fewer on postings and on stories, room for HOT counter updates

Revision ID: 0013_story_write_cost
Revises: 0012_story_link_cost
Create Date: 2026-12-07 03:00:00

The linker rewrites a story row and about twenty of its postings for every article it links,
and each rewritten row writes an entry into every index of its table:

- ``story_terms``' primary key becomes ``(story_id, term)``: it still arbitrates the postings'
  upserts, and now also finds a story's postings (a repost drops the terms gone, a merge all of
  them), so ``ix_story_terms_story`` goes. The candidate lookup reads ``ix_story_terms_lookup``.
- ``ix_stories_first_article_at`` goes: no query looks stories up by their first article.
- PostgreSQL: ``story_df`` gets a fillfactor of 70 (models.STORY_DF_FILLFACTOR), so that the
  fold's counter updates find room on their page (HOT: no index entry). It applies to pages
  written from now on; ``VACUUM FULL story_df`` applies it to the whole table at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_story_write_cost"
down_revision: str | Sequence[str] | None = "0012_story_link_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 70  # models.STORY_DF_FILLFACTOR when this was written


def _story_terms_key(columns: list[str], drop_index: str | None, add_index: str | None) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE story_terms DROP CONSTRAINT pk_story_terms,"
            f" ADD CONSTRAINT pk_story_terms PRIMARY KEY ({', '.join(columns)})"
        )
        if drop_index:
            op.drop_index(drop_index, table_name="story_terms")
        if add_index:
            op.create_index(add_index, "story_terms", ["story_id"])
        return
    # SQLite: a table's primary key is part of its definition, so the table is copied
    with op.batch_alter_table("story_terms", recreate="always") as batch_op:
        batch_op.create_primary_key("pk_story_terms", columns)
        if drop_index:
            batch_op.drop_index(drop_index)
        if add_index:
            batch_op.create_index(add_index, ["story_id"])


def upgrade() -> None:
    _story_terms_key(["story_id", "term"], drop_index="ix_story_terms_story", add_index=None)
    op.drop_index("ix_stories_first_article_at", table_name="stories")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE story_df SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE story_df RESET (fillfactor)")
    op.create_index("ix_stories_first_article_at", "stories", ["first_article_at"])
    _story_terms_key(["term", "story_id"], drop_index=None, add_index="ix_story_terms_story")
