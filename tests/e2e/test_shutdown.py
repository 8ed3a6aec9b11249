"""`docker stop` without Docker: the commands compose runs, as plain processes, stopped mid-task.

Migrate, worker and beat are started with the commands and environment of
docker-compose.yml (network addresses replaced by a private Redis and a
throw-away PostgreSQL database). One feed's server holds its response open, so
its poll task is running when the worker gets SIGTERM (what `docker stop` sends)
or SIGKILL (what Docker sends when the grace period is over).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from storage import repo
from storage.db import Database
from storage.models import Article, Entry, FetchLog
from tests.support import compose
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import start, stop, wait_for
from tests.support.services import free_port, temporary_postgres_database, temporary_redis_server

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
XML = {"Content-Type": "application/xml"}

pytestmark = pytest.mark.e2e


@dataclass
class Gate:
    """A feed whose response waits until the test releases it."""

    body: bytes
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __call__(self, h: BaseHTTPRequestHandler) -> None:
        self.started.set()
        self.release.wait(90)
        Reply(200, XML, self.body)(h)


@dataclass
class Stack:
    tmp: Path
    server: LocalHTTPServer
    stalled: Gate
    finishing: Gate
    broker: str
    db: Database
    worker_args: list[str]
    worker_env: dict[str, str]
    beat_args: list[str]
    beat_env: dict[str, str]
    stalled_feed: int
    finishing_feed: int

    def start_worker(self, log: str) -> subprocess.Popen[bytes]:
        return start(self.worker_args, self.worker_env, self.tmp, self.tmp / log)

    def start_beat(self) -> subprocess.Popen[bytes]:
        return start(self.beat_args, self.beat_env, self.tmp, self.tmp / "beat.log")

    def count(self, model: Any, *where: Any) -> int:
        with self.db.reader() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "worker", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _with_schedule(args: list[str], path: Path) -> list[str]:
    """Beat's compose command with its schedule file moved into this test's directory."""
    out = list(args)
    if "--schedule" in out:
        out[out.index("--schedule") + 1] = str(path)
    else:
        out += ["--schedule", str(path)]
    return out


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    data = compose.load()
    migrate, worker, beat = (compose.service(data, name) for name in ("migrate", "worker", "beat"))
    # The stalled feed answers only after the worker is gone; the finishing one right after SIGTERM.
    stalled = Gate((FEEDS / "rss2.xml").read_bytes())
    finishing = Gate((FEEDS / "atom.xml").read_bytes())
    with (
        temporary_redis_server() as broker,
        temporary_postgres_database("nwstop") as database_url,
        LocalHTTPServer() as server,
    ):
        server.route("/stalled.xml", stalled)
        server.route("/finishing.xml", finishing)
        server.route("/rss1.rdf", Reply(200, XML, (FEEDS / "rss1.rdf").read_bytes()))
        overrides = {
            "NEWSWORKER_DATABASE_URL": database_url,
            "NEWSWORKER_BROKER_URL": broker,
            "NEWSWORKER_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWORKER_DISPATCH_INTERVAL_SECONDS": "1",
            "NEWSWORKER_WORKER_CONCURRENCY": "2",
            # Short, so the test is quick; compose keeps the 25 s default.
            "NEWSWORKER_WORKER_SOFT_SHUTDOWN_SECONDS": "3",
            "NEWSWORKER_METRICS_PORT": str(free_port()),
        }
        _cli(compose.newsworker_args(migrate), compose.process_env(migrate, **overrides), tmp_path)
        db = Database(database_url)
        with db.transaction() as session:
            paths = ("/stalled.xml", "/finishing.xml", "/rss1.rdf")
            feeds = [repo.add_feed(session, server.url(path))[0] for path in paths]
            session.flush()
            feed_ids = [int(feed.id) for feed in feeds]
        try:
            yield Stack(
                tmp=tmp_path,
                server=server,
                stalled=stalled,
                finishing=finishing,
                broker=broker,
                db=db,
                worker_args=compose.newsworker_args(worker),
                worker_env=compose.process_env(worker, **overrides),
                beat_args=_with_schedule(compose.newsworker_args(beat), tmp_path / "beat-schedule"),
                beat_env=compose.process_env(beat, **overrides),
                stalled_feed=feed_ids[0],
                finishing_feed=feed_ids[1],
            )
        finally:
            stalled.release.set()
            finishing.release.set()
            db.dispose()


def _poll_messages(raw_messages: Iterable[bytes | str], feed_id: int) -> int:
    """How many of these broker messages are poll_feed(feed_id)."""
    found = 0
    for raw in raw_messages:
        message = json.loads(raw)
        if isinstance(message, list):  # the unacked hash stores [message, exchange, routing key]
            message = message[0]
        if message.get("headers", {}).get("task") != "newsworker.poll_feed":
            continue
        args = json.loads(base64.b64decode(message["body"]))[0]
        found += args[:1] == [feed_id]
    return found


def _hits(stack: Stack, path: str) -> int:
    return sum(1 for hit in stack.server.hits if hit.path == path)


def test_sigterm_mid_task_hands_the_task_back_and_a_restarted_worker_completes_it(stack: Stack) -> None:
    worker = stack.start_worker("worker-1.log")
    beat = stack.start_beat()
    try:
        wait_for(
            lambda: stack.stalled.started.is_set() and stack.finishing.started.is_set(),
            60,
            "both slow polls to reach their servers",
        )
        assert worker.poll() is None
        # What `docker stop` does: SIGTERM to the container's main process.
        os.kill(worker.pid, signal.SIGTERM)
        stack.finishing.release.set()  # this poll can finish within the soft-shutdown time
        worker.wait(timeout=60)  # soft shutdown, then the cold shutdown hands back the rest; no SIGKILL needed

        client = redis.Redis.from_url(stack.broker)
        queued = client.lrange("poll", 0, -1)
        assert client.hlen("unacked") == 0  # nothing parked until the visibility timeout
        client.close()
        # The stalled poll is back in its queue and wrote nothing.
        assert _poll_messages(queued, stack.stalled_feed) == 1
        assert stack.count(FetchLog, FetchLog.feed_id == stack.stalled_feed) == 0
        # The finishing poll either completed (and was acknowledged) or was handed back: never neither, never both.
        completed = stack.count(FetchLog, FetchLog.feed_id == stack.finishing_feed)
        assert completed + _poll_messages(queued, stack.finishing_feed) == 1

        # A new worker (the restarted container) gets the queued messages and completes them.
        stack.stalled.release.set()
        worker = stack.start_worker("worker-2.log")
        wait_for(lambda: stack.count(Article) == 6, 60, "all six articles after the restart")
        wait_for(lambda: stack.count(Article, Article.processed_at.is_not(None)) == 6, 30, "all articles processed")
    finally:
        beat_code = stop(beat)
        stop(worker)
    # Re-delivered, not re-dispatched: the feed's lease keeps beat from polling it again for minutes.
    assert _hits(stack, "/stalled.xml") == 2
    for feed in (stack.stalled_feed, stack.finishing_feed):
        assert stack.count(FetchLog, FetchLog.feed_id == feed) == 1
        assert stack.count(FetchLog, FetchLog.feed_id == feed, FetchLog.outcome == "ok") == 1
    assert stack.count(Entry, Entry.state != "ingested") == 0
    assert beat_code == 0
    # The first worker logged the interruption as one JSON event with the task's ids.
    lines = (stack.tmp / "worker-1.log").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    interrupted = [(e["task_name"], e["feed_id"]) for e in events if e.get("outcome") == "interrupted"]
    assert ("newsworker.poll_feed", stack.stalled_feed) in interrupted
    assert all(e["task_id"] and e["duration_ms"] > 0 for e in events if e.get("outcome") == "interrupted")


def test_sigkill_mid_task_leaves_the_message_unacknowledged_for_redelivery(stack: Stack) -> None:
    worker = stack.start_worker("worker.log")
    beat = stack.start_beat()
    try:
        wait_for(stack.stalled.started.is_set, 60, "the stalled feed's poll to reach its server")
        # What Docker does after the grace period: SIGKILL to everything in the container.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        stop(beat)
    client = redis.Redis.from_url(stack.broker)
    try:
        # Not lost: kept in the unacknowledged set, delivered again once the visibility timeout passes.
        assert _poll_messages(list(client.hvals("unacked")), stack.stalled_feed) == 1
        assert _poll_messages(client.lrange("poll", 0, -1), stack.stalled_feed) == 0
    finally:
        client.close()
    assert stack.count(FetchLog, FetchLog.feed_id == stack.stalled_feed) == 0
