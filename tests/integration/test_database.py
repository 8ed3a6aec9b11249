"""The unit of work on the embedded default: concurrent writers on one SQLite file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import select

from storage import repo
from storage.db import WAL_CHECKPOINT_PAGES, Database
from storage.models import Feed
from storage.schema import upgrade


def test_sqlite_writers_read_then_write_without_lost_updates_or_lock_errors(tmp_path: Path) -> None:
    """A transaction that reads, then writes (dedupe, story linking, scheduling all do) must
    hold the write lock from its first statement: with SQLite's default deferred BEGIN two
    such transactions read the same row and one update is lost, or the second cannot upgrade
    its read snapshot and fails with "database is locked" at once, whatever busy_timeout says."""
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    db = Database(url)
    upgrade(db.engine, url)
    with db.transaction() as session:
        feed, _ = repo.add_feed(session, "https://site.example/feed.xml")
    errors: list[BaseException] = []

    def bump(times: int) -> None:
        other = Database(url)  # its own engine, as another process would have
        try:
            for _ in range(times):
                with other.transaction() as s:
                    row = s.scalars(select(Feed).where(Feed.id == feed.id)).one()
                    seen = row.consecutive_errors
                    time.sleep(0.002)  # let the other writers interleave
                    row.consecutive_errors = seen + 1
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=bump, args=(15,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with db.reader() as session:
        assert session.get(Feed, feed.id).consecutive_errors == 60  # type: ignore[union-attr]
    db.dispose()


def test_sqlite_checkpoints_its_write_ahead_log_in_large_steps(tmp_path: Path) -> None:
    """Every connection the worker opens runs in WAL mode with the larger checkpoint interval
    (the default 1000 pages made an import checkpoint every few articles)."""
    db = Database(f"sqlite:///{tmp_path / 'embedded.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_CHECKPOINT_PAGES > 1000
