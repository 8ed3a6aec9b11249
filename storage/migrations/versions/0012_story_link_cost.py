"""story linking's database CPU: document frequencies counted in batches, a covering lookup index

Revision ID: 0012_story_link_cost
Revises: 0011_published_offset
Create Date: 2026-12-06 17:40:00

A linked article used to upsert a ``story_df`` counter per distinct term (~150), the largest
part of linking's database CPU. It now writes one row of its terms here; every ``DF_FOLD_EVERY``
documents a linker folds the pending rows into ``story_df`` (``storage.story_index``). Existing
counters stay as they are. Downgrade folds what is pending first, so no count is lost.

The candidate lookup read ``story_terms`` through ``(term, last_time)`` and then every posting's
row; ``ix_story_terms_lookup`` holds every column it reads, so it reads the index alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_story_link_cost"
down_revision: str | Sequence[str] | None = "0011_published_offset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story_df_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_df_pending")),
    )
    op.create_index(
        "ix_story_terms_lookup", "story_terms", ["term", "last_time", "first_time", "story_id", "weight"]
    )
    op.drop_index("ix_story_terms_term_last", table_name="story_terms")


def downgrade() -> None:
    op.create_index("ix_story_terms_term_last", "story_terms", ["term", "last_time"])
    op.drop_index("ix_story_terms_lookup", table_name="story_terms")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO story_df (term, df) SELECT t, count(*) FROM story_df_pending,"
            " json_array_elements_text(story_df_pending.terms) AS t GROUP BY t"
            " ON CONFLICT (term) DO UPDATE SET df = story_df.df + excluded.df"
        )
    else:
        op.execute(
            "INSERT INTO story_df (term, df) SELECT j.value, count(*) FROM story_df_pending AS p,"
            " json_each(p.terms) AS j GROUP BY j.value ON CONFLICT (term) DO UPDATE SET df = df + excluded.df"
        )
    op.drop_table("story_df_pending")
