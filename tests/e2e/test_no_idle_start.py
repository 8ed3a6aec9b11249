"""No idle start: beat dispatches when it starts; a feed added or reset is polled at once.

The dispatch interval is an hour here, so nothing in these tests can come from a beat tick:
the first poll must come from beat's start, later ones from `feeds add` / `feeds reset`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Article, Feed
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import run_cli, service_env, start, stop, wait_for
from tests.support.services import temporary_postgres_database

pytestmark = pytest.mark.e2e


def _rss(*links: str) -> bytes:
    items = "".join(f"<item><title>t {u}</title><link>{u}</link><guid>{u}</guid></item>" for u in links)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>{items}</channel></rss>".encode()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        for name in ("one", "two"):
            srv.route(
                f"/{name}.xml",
                Reply(200, {"Content-Type": "application/rss+xml"}, _rss(srv.url(f"/{name}/a"), srv.url(f"/{name}/b"))),
            )
        yield srv


def _polls(db: Database, url: str) -> int:
    with db.reader() as session:
        feed = session.scalar(select(Feed).where(Feed.url == url))
        return 0 if feed is None or feed.last_polled_at is None else 1


def _last_poll(db: Database, url: str) -> object:
    with db.reader() as session:
        return session.scalar(select(Feed.last_polled_at).where(Feed.url == url))


def test_beat_dispatches_at_start_and_added_or_reset_feeds_are_polled_at_once(
    server: LocalHTTPServer, redis_url: str, tmp_path: Path
) -> None:
    with temporary_postgres_database("nwidle") as database_url:
        env = service_env(
            NEWSWORKER_DATABASE_URL=database_url,
            NEWSWORKER_BROKER_URL=redis_url,
            NEWSWORKER_REDIS_KEY_PREFIX="nwidle:",
            NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
            NEWSWORKER_DISPATCH_INTERVAL_SECONDS="3600",
            NEWSWORKER_WORKER_CONCURRENCY="2",
        )
        run_cli("db", "upgrade", env=env, cwd=tmp_path)
        one, two = server.url("/one.xml"), server.url("/two.xml")
        run_cli("feeds", "add", one, env=env, cwd=tmp_path)  # before anything runs: beat's start polls it
        worker = start(["worker"], env, tmp_path, tmp_path / "worker.log")
        beat = start(["beat", "--schedule", str(tmp_path / "beat-schedule")], env, tmp_path, tmp_path / "beat.log")
        db = Database(database_url)
        try:
            wait_for(lambda: _polls(db, one) == 1, 60, "beat's first dispatch to poll the feed added before start")

            def articles() -> int:
                with db.reader() as session:
                    return int(session.scalar(select(func.count()).select_from(Article)) or 0)

            wait_for(lambda: articles() == 2, 60, "the first feed's two articles")

            run_cli("feeds", "add", two, env=env, cwd=tmp_path)  # while running: the CLI sends its poll
            wait_for(lambda: _polls(db, two) == 1, 60, "the feed added while running to be polled")
            wait_for(lambda: articles() == 4, 60, "the second feed's two articles")

            before = _last_poll(db, one)
            run_cli("feeds", "reset", one, env=env, cwd=tmp_path)
            wait_for(lambda: _last_poll(db, one) != before, 60, "the reset feed to be polled again")
        finally:
            db.dispose()
            stop(beat)
            stop(worker)


def test_embedded_run_polls_a_feed_added_while_it_waits(server: LocalHTTPServer, tmp_path: Path) -> None:
    db_path = tmp_path / "nw.db"
    env = service_env(
        NEWSWORKER_DATABASE_URL=f"sqlite:///{db_path}",
        NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
        NEWSWORKER_DISPATCH_INTERVAL_SECONDS="3600",
    )
    one, two = server.url("/one.xml"), server.url("/two.xml")
    run_cli("db", "upgrade", env=env, cwd=tmp_path)
    run_cli("feeds", "add", one, env=env, cwd=tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "run"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    db = Database(f"sqlite:///{db_path}")
    try:
        wait_for(lambda: _polls(db, one) == 1, 60, "the first pass")
        run_cli("feeds", "add", two, env=env, cwd=tmp_path)
        wait_for(lambda: _polls(db, two) == 1, 60, "the feed added while `run` waits to be polled")
    finally:
        db.dispose()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 130
