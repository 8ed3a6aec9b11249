"""Two real `newsworker beat` processes and a worker: no feed is polled twice; the standby takes over.

Private redis-server, throw-away PostgreSQL database, real HTTP server. Every
poll is counted twice: as a request reaching the server and as a fetch_log row.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Feed, FetchLog
from tests.support.feedpoll import Item, feed_reply, rss
from tests.support.httpserver import LocalHTTPServer
from tests.support.processes import run_cli, service_env, start, stop, wait_for
from tests.support.services import temporary_postgres_database, temporary_redis_server

pytestmark = pytest.mark.e2e

FEEDS = [f"/f{i}.xml" for i in range(5)]
SENT = "Sending due task"


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_two_beats_never_double_poll_and_the_standby_takes_over(tmp_path: Path) -> None:
    with (
        temporary_redis_server() as redis_url,
        temporary_postgres_database("nwbeat") as database_url,
        LocalHTTPServer() as server,
    ):
        for path in [*FEEDS, "/late.xml"]:
            server.route(path, feed_reply(rss([Item(path, f"https://site.example{path}", path)])))
        env = service_env(
            NEWSWORKER_DATABASE_URL=database_url,
            NEWSWORKER_BROKER_URL=redis_url,
            NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
            NEWSWORKER_DISPATCH_INTERVAL_SECONDS="0.5",
            NEWSWORKER_BEAT_LOCK_SECONDS="3",
            NEWSWORKER_WORKER_CONCURRENCY="4",
        )

        def cli(*args: str) -> None:
            run_cli(*args, env=env, cwd=tmp_path)

        cli("db", "upgrade")
        for path in FEEDS:
            cli("feeds", "add", server.url(path))
        logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat1", "beat2")}
        db = Database(database_url)
        worker = start(["worker"], env, tmp_path, logs["worker"])
        beat1 = start(["beat"], env, tmp_path, logs["beat1"])
        beat2 = None
        client = Celery("e2e-client", broker=redis_url, set_as_current=False)
        try:
            wait_for(lambda: "beat: active" in _log(logs["beat1"]), 60, "the first beat to become active")
            beat2 = start(["beat"], env, tmp_path, logs["beat2"])
            wait_for(lambda: "standing by" in _log(logs["beat2"]), 60, "the second beat to stand by")

            def polls() -> Counter[str]:
                return Counter(h.path for h in server.hits)

            def logged() -> dict[int, int]:
                with db.reader() as session:
                    rows = session.execute(select(FetchLog.feed_id, func.count()).group_by(FetchLog.feed_id)).all()
                return {int(feed_id): int(n) for feed_id, n in rows}

            wait_for(lambda: len(logged()) == len(FEEDS), 60, "every feed polled once")
            # A window of at least 16 more dispatches (8 s) while both beats run.
            sent_before = _log(logs["beat1"]).count(SENT)
            wait_for(lambda: _log(logs["beat1"]).count(SENT) >= sent_before + 16, 60, "16 more dispatches")
            assert polls() == Counter(dict.fromkeys(FEEDS, 1))
            assert set(logged().values()) == {1}
            assert SENT not in _log(logs["beat2"])

            # The same poll task delivered again (three times) while the feed is not due: no request.
            with db.reader() as session:
                first_id = session.scalar(select(Feed.id).where(Feed.url == server.url(FEEDS[0])))
            # One structured "task finished" line per task run (worker/logging.py, JSON format).
            finished = '"task_name":"newsworker.poll_feed"'
            done_before = _log(logs["worker"]).count(finished)
            for _ in range(3):
                client.send_task("newsworker.poll_feed", args=[first_id], queue="poll")
            wait_for(
                lambda: _log(logs["worker"]).count(finished) >= done_before + 3,
                60,
                "the duplicate poll tasks to run",
            )
            assert polls()[FEEDS[0]] == 1

            # The active beat dies without releasing its lock: the standby takes over after the TTL.
            os.killpg(beat1.pid, signal.SIGKILL)
            beat1.wait(10)
            cli("feeds", "add", server.url("/late.xml"))  # with a broker, its first poll is sent at once
            wait_for(
                lambda: "beat: active" in _log(logs["beat2"]) and SENT in _log(logs["beat2"]),
                60,
                "the standby beat to take over and dispatch",
            )
            wait_for(lambda: polls()["/late.xml"] == 1, 60, "the new feed to be polled")
            sent_before = _log(logs["beat2"]).count(SENT)
            wait_for(lambda: _log(logs["beat2"]).count(SENT) >= sent_before + 6, 60, "6 more dispatches")
            assert polls() == Counter({**dict.fromkeys(FEEDS, 1), "/late.xml": 1})
            assert set(logged().values()) == {1}
        finally:
            db.dispose()
            client.close()
            codes = [stop(p) for p in (beat2, beat1, worker) if p is not None]
        worker_log = _log(logs["worker"])
        assert "Traceback" not in worker_log, worker_log[-3000:]
        assert codes[0] == 0 and codes[-1] == 0  # beat2 and the worker shut down cleanly
