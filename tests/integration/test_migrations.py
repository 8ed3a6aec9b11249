"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import Database
from storage.models import Base
from storage.schema import SchemaOutOfDate, current_revision, ensure_current, head_revision, upgrade


def test_migrated_schema_matches_models(database: Database) -> None:
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert current_revision(database.engine) == head_revision()


def test_empty_database_is_reported_not_crashed(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/empty.db")
    try:
        ensure_current(db.engine)
    except SchemaOutOfDate as exc:
        assert "newsworker db upgrade" in str(exc)
    else:
        raise AssertionError("an empty database must be reported")
    assert upgrade(db.engine, db.url) == (None, head_revision())
    ensure_current(db.engine)
