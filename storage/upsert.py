"""Idempotent inserts on PostgreSQL and SQLite.

Writes never check-then-insert: they insert and let the unique constraint
decide, so two workers (or one re-delivered task) cannot create two rows.
Batches are sorted by their conflict key so that concurrent writers take row
locks in the same order and do not deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {dialect!r}")


def insert_ignore(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> int:
    """Insert rows, skipping those whose conflict key exists. Returns rows inserted."""
    return len(inserted_keys(session, table, rows, conflict_columns))


def inserted_keys(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> set[tuple[Any, ...]]:
    """:func:`insert_ignore`, returning the conflict keys of the rows it inserted.

    Read from RETURNING: the driver's rowcount of a many-row insert is not the count on
    PostgreSQL (it said 0 for every batch, so the work items' ``record`` updated every item it
    had just inserted, one more statement per message)."""
    if not rows:
        return set()
    ordered = sorted(rows, key=lambda row: tuple(str(row[c]) for c in conflict_columns))
    dialect = session.get_bind().dialect.name
    key = (dialect, table, tuple(conflict_columns))
    statement = _INSERTED_KEYS.get(key)
    if statement is None:  # built once: every stored article runs two (its addresses, its work item)
        statement = _INSERTED_KEYS[key] = (
            _insert(session, table)
            .on_conflict_do_nothing(index_elements=list(conflict_columns))
            .returning(*(table.c[c] for c in conflict_columns))
        )
    return {tuple(row) for row in session.execute(statement, ordered)}


_INSERTED_KEYS: dict[tuple[str, Table, tuple[str, ...]], Insert] = {}


_RETURNING_ID: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def insert_ignore_returning_id(
    session: Session, table: Table, row: Mapping[str, Any], conflict_columns: Sequence[str]
) -> tuple[int, bool]:
    """Insert one row unless its key exists; return ``(id, created)``.

    The statement is built once per table and conflict key and the row travels as its
    parameters (every stored article runs this; rebuilding a 20-column statement per call cost
    more client CPU than the insert)."""
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name, tuple(conflict_columns))
    statement = _RETURNING_ID.get(key)
    if statement is None:
        statement = (
            _insert(session, table).on_conflict_do_nothing(index_elements=list(conflict_columns)).returning(table.c.id)
        )
        _RETURNING_ID[key] = statement
    conn = session.connection()
    inserted = conn.execute(statement, dict(row)).scalar_one_or_none()
    if inserted is not None:
        return int(inserted), True
    query = table.select().with_only_columns(table.c.id)
    for column in conflict_columns:
        query = query.where(table.c[column] == row[column])
    return int(conn.execute(query).scalar_one()), False
