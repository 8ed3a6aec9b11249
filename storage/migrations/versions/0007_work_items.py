"""work items: a state and a lease per unit of work in flight

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("queued_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("crashes", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_work_items_kind_key")),
    )
    op.create_index("ix_work_items_state_lease", "work_items", ["state", "lease_until"])
    # Work in flight before this release: entries still pending and articles never processed
    # get their rows, so the sweeper finds them (their messages may be long gone).
    as_json = "CAST({} AS JSON)" if op.get_bind().dialect.name == "postgresql" else "{}"
    args = as_json.format("'[' || CAST(id AS VARCHAR(64)) || ']'")
    for kind, table, since, condition in (
        ("newsworker.ingest_entry", "entries", "first_seen_at", "state = 'pending'"),
        ("newsworker.process_article", "articles", "created_at", "processed_at IS NULL"),
    ):
        op.execute(
            "INSERT INTO work_items (kind, key, args, state, queued_at, attempts, crashes, updated_at)"
            f" SELECT '{kind}', CAST(id AS VARCHAR(64)), {args}, 'queued', {since}, 0, 0, {since}"
            f" FROM {table} WHERE {condition}"
        )


def downgrade() -> None:
    op.drop_index("ix_work_items_state_lease", table_name="work_items")
    op.drop_table("work_items")
