"""Task events are off until a monitor asks for them (Flower does, at start and every minute).

A real worker on a private Redis runs poll tasks while `celery events --dump` listens: nothing
about tasks is published until `celery control enable_events`, the same broadcast Flower sends;
from then on the worker reports its tasks.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import Feed
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import REPO, run_cli, service_env, start, stop, wait_for
from tests.support.services import temporary_postgres_database, temporary_redis_server

pytestmark = pytest.mark.e2e


def _rss(name: str) -> bytes:
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title>"
        f"<item><title>{name}</title><guid>{name}-1</guid></item></channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        for name in ("quiet", "watched"):
            srv.route(f"/{name}.xml", Reply(200, {"Content-Type": "application/rss+xml"}, _rss(name)))
        yield srv


def _polled(db: Database, url: str) -> bool:
    with db.reader() as session:
        return session.scalar(select(Feed.last_polled_at).where(Feed.url == url)) is not None


def _celery(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", *args],
        env=env,
        cwd=REPO,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_task_events_start_off_and_a_monitor_turns_them_on(server: LocalHTTPServer, tmp_path: Path) -> None:
    with temporary_redis_server() as broker, temporary_postgres_database("nwevents") as database_url:
        env = service_env(
            NEWSWORKER_DATABASE_URL=database_url,
            NEWSWORKER_BROKER_URL=broker,
            NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
            NEWSWORKER_WORKER_CONCURRENCY="1",
        )
        run_cli("db", "upgrade", env=env, cwd=tmp_path)
        worker = start(["worker"], env, tmp_path, tmp_path / "worker.log")
        dump_log = tmp_path / "events.log"
        dump = _celery("events", "--dump", env=env, log=dump_log)
        db = Database(database_url)
        try:
            wait_for(
                lambda: (
                    subprocess.run(
                        [sys.executable, "-m", "celery", "-A", "tasks", "inspect", "ping", "--timeout", "2"],
                        env=env,
                        cwd=REPO,
                        capture_output=True,
                    ).returncode
                    == 0
                ),
                60,
                "the worker to answer a ping",
            )
            quiet = server.url("/quiet.xml")
            run_cli("feeds", "add", quiet, env=env, cwd=tmp_path)  # with a broker: its poll is sent at once
            wait_for(lambda: _polled(db, quiet), 60, "the first feed's poll")
            time.sleep(2)  # what the worker would publish about that poll reaches the dump by now
            before = dump_log.read_text()
            enabled = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "tasks", "control", "enable_events", "--timeout", "5"],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert enabled.returncode == 0, enabled.stdout + enabled.stderr
            watched = server.url("/watched.xml")
            run_cli("feeds", "add", watched, env=env, cwd=tmp_path)
            wait_for(lambda: _polled(db, watched), 60, "the second feed's poll")
            wait_for(lambda: "task succeeded" in dump_log.read_text(), 30, "the worker's task events")
        finally:
            db.dispose()
            stop(dump)
            stop(worker)
        events = dump_log.read_text()
        # Before the broadcast: not one task event, though the worker ran the first poll.
        assert "task " not in before, before
        after = events[len(before) :]
        assert "newsworker.poll_feed" in after and "task succeeded" in after, events
