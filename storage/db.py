"""The one place that owns engines, sessions and transactions.

``Database.transaction()`` is the unit of work: it commits on success, rolls
back on error, and only after a successful commit runs the callbacks registered
with ``after_commit`` (that is where follow-up tasks are enqueued, so a task
never sees input that was rolled back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

_AFTER_COMMIT_KEY = "newsworker_after_commit"
# Execution option set by Database.transaction(): on SQLite that transaction starts with
# BEGIN IMMEDIATE (see _sqlite_begin).
_WRITER_OPTION = "newsworker_writer"


WAL_CHECKPOINT_PAGES = 10_000  # pages of 4 KiB: ~40 MB of WAL between automatic checkpoints


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling starts a transaction only at the first write
    # and issues a deferred BEGIN; _sqlite_begin takes over.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the reader CLI run while the worker writes; busy_timeout waits
    # for a competing writer instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every ~40 MB instead of every 4 MB (SQLite's default 1000 pages): each
    # article rewrites the same hot index pages (dedupe bands, story terms), and a checkpoint
    # writes a page once however often it changed since the last one, and syncs the file once.
    # Importing 2,500 articles: 0.93x the CPU and 0.89x the wall time of the default (see
    # docs/throughput.md). The WAL file may grow to about this size between checkpoints.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Writers take SQLite's write lock with their first statement (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes (dedupe, scheduling, story linking
    all do) either loses its update to a concurrent writer or, in WAL mode, fails at once
    with "database is locked" when it tries to upgrade its read snapshot; busy_timeout
    does not help there. IMMEDIATE makes writers queue up (for up to busy_timeout) instead.
    Readers keep a deferred BEGIN: they never block anyone under WAL."""
    writer = connection.get_execution_options().get(_WRITER_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def make_engine(url: str, *, pool: bool = True) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, poolclass=None if pool else NullPool)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if not pool:
        kwargs["poolclass"] = NullPool
    return create_engine(url, **kwargs)


class Database:
    """Engine + session factory for one process. Create it at start-up, never at import."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            if self.dialect == "sqlite":
                session.connection(execution_options={_WRITER_OPTION: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            session.info.pop(_AFTER_COMMIT_KEY, None)
            raise
        finally:
            callbacks: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT_KEY, [])
            session.close()
        for callback in callbacks:
            callback()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
        finally:
            # close() ends the transaction and detaches objects without expiring them,
            # so what was read stays readable after the block.
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the transaction of ``session`` has committed."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)
