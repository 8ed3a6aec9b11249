"""Shared fixtures: real PostgreSQL and Redis per test run, SQLite per test."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database
from storage.schema import upgrade
from tests.support.services import temporary_postgres_database, temporary_redis_server


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background (`... &` in a script, nohup) inherits SIGINT ignored, and
    # so would every `newsworker run` it starts: the Ctrl-C tests would wait in vain. A handler
    # here (reset to the default at exec) lets the processes the tests start see Ctrl-C again.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's NEWSWORKER_* settings or writes into the checkout."""
    import os

    for name in list(os.environ):
        if name.startswith("NEWSWORKER_") and name != "NEWSWORKER_TEST_PG" and name != "NEWSWORKER_SHARED_DATA":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    from worker.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with temporary_redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def _migrated_postgres(postgres_url: str) -> str:
    db = Database(postgres_url)
    upgrade(db.engine, postgres_url)
    db.dispose()
    return postgres_url


def _truncate_postgres(db: Database) -> None:
    names = [t.name for t in reversed(__import__("storage.models", fromlist=["Base"]).Base.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        connection.execute(text("TRUNCATE " + ", ".join(names) + " RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        db = Database(url)
        upgrade(db.engine, url)
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("_migrated_postgres")
    db = Database(url)
    _truncate_postgres(db)
    yield db
    db.dispose()


@pytest.fixture
def shared_data() -> Path:
    import os

    path = Path(os.environ.get("NEWSWORKER_SHARED_DATA", SHARED_DATA))
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path
