"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from storage.db import Database
from storage.models import Base, story_terms
from storage.schema import SchemaOutOfDate, alembic_config, current_revision, ensure_current, head_revision, upgrade
from tests.support.services import temporary_postgres_database


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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_story_write_cost_rekeys_postings_and_drops_unread_indexes(backend: str, tmp_path: Path) -> None:
    """0013 keys postings by (story_id, term) and drops the two indexes no query reads, keeping
    every posting; its downgrade puts the old key and indexes back, again keeping them."""
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path}/rekey.db"
        else:
            url = stack.enter_context(temporary_postgres_database())
        db = Database(url)
        stack.callback(db.dispose)
        upgrade(db.engine, url, "0012_story_link_cost")
        rows = [("w:a", 5, 1.0, 1.0, 2.0), ("w:b", 5, 0.5, 1.0, 2.0), ("w:a", 6, 0.25, 3.0, 4.0)]
        with db.engine.begin() as c:
            c.execute(insert(story_terms), [dict(zip(story_terms.c.keys(), r, strict=True)) for r in rows])

        def schema() -> tuple[list[str], set[str | None], list[tuple[object, ...]]]:
            found = inspect(db.engine)
            indexes = {i["name"] for t in ("story_terms", "stories") for i in found.get_indexes(t)}
            with db.engine.connect() as c:
                kept = [tuple(r) for r in c.execute(select(story_terms).order_by("term", "story_id"))]
            return found.get_pk_constraint("story_terms")["constrained_columns"], indexes, kept

        upgrade(db.engine, url)
        key, indexes, kept = schema()
        assert key == ["story_id", "term"] and kept == sorted(rows)
        assert not indexes & {"ix_story_terms_story", "ix_stories_first_article_at"}
        config = alembic_config(url)
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0012_story_link_cost")
        key, indexes, kept = schema()
        assert key == ["term", "story_id"] and kept == sorted(rows)
        assert {"ix_story_terms_story", "ix_stories_first_article_at"} <= indexes
