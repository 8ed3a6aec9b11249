"""Planner statistics where the PostgreSQL server runs without autovacuum (storage.maintenance)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import insert, text

from storage.db import Database
from storage.models import Feed
from worker.cli import cli
from worker.service import handlers
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings


def _runtime(db: Database) -> Runtime:
    rt = Runtime.build(load_settings(database_url=db.url), LocalDispatcher())
    rt.db.dispose()
    rt.db = db
    return rt


def _feeds_stats(db: Database) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(
            text("SELECT n_mod_since_analyze, last_analyze FROM pg_stat_user_tables WHERE relname = 'feeds'")
        ).one()


def _wait_for_stats(db: Database, rows: int) -> None:
    # the statistics collector reports a backend's counts when its transaction ends
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        for _ in range(100):
            if (
                conn.execute(
                    text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'feeds'")
                ).scalar_one()
                >= rows
            ):
                return
            conn.execute(text("SELECT pg_sleep(0.05), pg_stat_clear_snapshot()"))


def test_changed_tables_are_analyzed_only_where_autovacuum_is_off(database: Database) -> None:
    rt = _runtime(database)
    if database.dialect != "postgresql":
        assert handlers.analyze_tables(rt) == []  # SQLite: nothing to do
        return
    with database.transaction() as session:
        session.execute(insert(Feed), [{"url": f"https://site{i}.example/rss"} for i in range(300)])
    _wait_for_stats(database, 300)
    with database.engine.connect() as conn:
        autovacuum = conn.execute(text("SELECT current_setting('autovacuum')")).scalar_one()
    analyzed = handlers.analyze_tables(rt)
    changed, last_analyze = _feeds_stats(database)
    if autovacuum == "on":
        assert analyzed == []  # the server's own autovacuum does it; newsworker stays out of the way
        return
    assert "feeds" in analyzed
    assert last_analyze is not None and changed == 0
    assert "feeds" not in handlers.analyze_tables(rt)  # nothing changed since: not analyzed again


def test_an_embedded_run_applies_the_same_rule_each_pass(database: Database, monkeypatch: Any) -> None:
    """No beat in the embedded mode: `run` analyzes after each pass, as beat does every minute."""
    if database.dialect != "postgresql":
        return
    with database.engine.connect() as conn:
        if conn.execute(text("SELECT current_setting('autovacuum')")).scalar_one() == "on":
            return  # the server's own autovacuum does it
    later = datetime.now(UTC) + timedelta(days=1)  # none is due: the pass polls nothing
    with database.transaction() as session:
        session.execute(
            insert(Feed), [{"url": f"https://site{i}.example/rss", "next_poll_at": later} for i in range(300)]
        )
    _wait_for_stats(database, 300)
    monkeypatch.setenv("NEWSWORKER_DATABASE_URL", database.url)
    result = CliRunner().invoke(cli, ["run", "--once"], prog_name="newsworker", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    changed, last_analyze = _feeds_stats(database)
    assert last_analyze is not None and changed == 0
