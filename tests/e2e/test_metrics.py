"""The worker's Prometheus endpoint after a real run: its counts are the database's counts.

The worker runs with the command and environment of docker-compose.yml and a
prefork pool of two processes, so the totals only match if the per-process
metric files are summed (multi-process mode).
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from storage import repo
from storage.db import Database
from storage.models import Article, Entry, FetchLog, Story
from tests.support import compose
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import start, stop, wait_for
from tests.support.services import free_port, temporary_postgres_database, temporary_redis_server
from worker import metrics

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
XML = {"Content-Type": "application/xml"}

pytestmark = pytest.mark.e2e


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Samples by name, then by sorted label pairs."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def total(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for key, v in samples.get(name, {}).items() if wanted <= set(key))


def _feed_with_copy(link: str) -> bytes:
    rng = random.Random(7)
    words = ["river", "council", "budget", "vote", "storm", "harbour", "school", "minister", "report", "court"]
    text = " ".join(rng.choice(words) + ("." if i % 12 == 11 else "") for i in range(240))
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>copies</title><link>http://example.org/</link>'
        f"<item><title>Council votes on the harbour budget</title><link>{link}</link>"
        f"<guid>{link}</guid><description>{text}</description></item></channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        for name in ("rss2.xml", "atom.xml", "rss1.rdf"):
            srv.route(f"/{name}", Reply(200, XML, (FEEDS / name).read_bytes()))
        # The same items under a second feed: their articles exist already.
        srv.route("/mirror.xml", Reply(200, XML, (FEEDS / "rss2.xml").read_bytes()))
        srv.route("/broken.xml", Reply(500, {"Content-Type": "text/plain"}, b"down"))
        # One story copied word for word under another address: a duplicate (the pages 404,
        # so both articles keep the feed's text).
        for name in ("a", "b"):
            srv.route(f"/copy-{name}.xml", Reply(200, XML, _feed_with_copy(srv.url(f"/story-{name}"))))
        srv.route("/garbage.xml", Reply(200, XML, b"<html><body>not a feed"))
        yield srv


def test_scrape_after_a_run_shows_the_counts_of_the_database(server: LocalHTTPServer, tmp_path: Path) -> None:
    data = compose.load()
    migrate, worker_svc, beat_svc = (compose.service(data, name) for name in ("migrate", "worker", "beat"))
    port = free_port()
    with temporary_redis_server() as broker, temporary_postgres_database("nwmetrics") as database_url:
        overrides = {
            "NEWSWORKER_DATABASE_URL": database_url,
            "NEWSWORKER_BROKER_URL": broker,
            "NEWSWORKER_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWORKER_DISPATCH_INTERVAL_SECONDS": "1",
            "NEWSWORKER_WORKER_CONCURRENCY": "2",
            "NEWSWORKER_METRICS_PORT": str(port),
        }
        subprocess.run(
            [sys.executable, "-m", "worker", *compose.newsworker_args(migrate)],
            env=compose.process_env(migrate, **overrides),
            cwd=tmp_path,
            check=True,
            capture_output=True,
            timeout=120,
        )
        db = Database(database_url)
        paths = (
            "/rss2.xml",
            "/atom.xml",
            "/rss1.rdf",
            "/mirror.xml",
            "/broken.xml",
            "/garbage.xml",
            "/copy-a.xml",
            "/copy-b.xml",
        )
        with db.transaction() as session:
            for path in paths:
                repo.add_feed(session, server.url(path))

        def count(model: Any, *where: Any) -> int:
            with db.reader() as session:
                return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        beat_args = compose.newsworker_args(beat_svc)
        beat_args[beat_args.index("--schedule") + 1] = str(tmp_path / "beat-schedule")
        worker = start(
            compose.newsworker_args(worker_svc),
            compose.process_env(worker_svc, **overrides),
            tmp_path,
            tmp_path / "worker.log",
        )
        beat = start(beat_args, compose.process_env(beat_svc, **overrides), tmp_path, tmp_path / "beat.log")
        try:
            wait_for(lambda: count(FetchLog) == len(paths), 60, "one poll of every feed")
            wait_for(lambda: count(Entry, Entry.state != "ingested") == 0 and count(Entry) > 0, 60, "entries ingested")
            wait_for(lambda: count(Article, Article.processed_at.is_(None)) == 0, 60, "articles processed")
            # The compose health checks pass against the running worker and beat.
            for svc, env in ((worker_svc, {"HOSTNAME": socket.gethostname()}), (beat_svc, {})):
                probe = compose.healthcheck_argv(svc, sys.executable)
                if svc.name == "beat":
                    probe[probe.index("--schedule") + 1] = str(tmp_path / "beat-schedule")
                checked = subprocess.run(
                    probe,
                    env=compose.process_env(svc, **overrides, **env),
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert checked.returncode == 0, (svc.name, probe, checked.stdout, checked.stderr)
            stop(beat)
            # Wait until the broker is drained and every task is acknowledged, as the scrape itself reports.
            wait_for(
                lambda: (
                    total(scrape(port), "newsworker_queue_depth") == 0
                    and total(scrape(port), "newsworker_queue_unacked") == 0
                ),
                30,
                "empty queues",
            )
            samples = scrape(port)
            with db.reader() as session:
                polls_by_outcome = dict(
                    session.execute(select(FetchLog.outcome, func.count()).group_by(FetchLog.outcome)).all()
                )
            articles = count(Article)
            entries_ingested = count(Entry, Entry.state == "ingested")
            duplicates = count(Article, Article.duplicate_of.is_not(None))
            stories = count(Story)
        finally:
            stop(beat)
            stop(worker)
            db.dispose()

    # The run produced what the comparison needs: several outcomes, new and already-stored articles.
    assert polls_by_outcome == {"ok": 6, "http_error": 1, "parse_error": 1}
    assert articles == 8 and entries_ingested == 10 and duplicates == 1
    for outcome, n in polls_by_outcome.items():
        assert total(samples, "newsworker_polls_total", outcome=outcome) == n, outcome
    assert total(samples, "newsworker_polls_total") == sum(polls_by_outcome.values())
    assert total(samples, "newsworker_fetch_duration_seconds_count", kind="feed") == sum(polls_by_outcome.values())
    assert total(samples, "newsworker_articles_ingested_total") == articles
    assert total(samples, "newsworker_articles_existing_total") == entries_ingested - articles
    assert total(samples, "newsworker_articles_duplicate_total") == duplicates
    # Every new article fetched its page first (a 404 or an unreachable host: it keeps the feed's text).
    assert total(samples, "newsworker_fetch_duration_seconds_count", kind="article") >= articles
    assert total(samples, "newsworker_stories_created_total") == stories
    # Task counters: one successful poll task per fetch-log line, one ingest per entry, one process per article.
    success = {"state": "success"}
    assert total(samples, "newsworker_tasks_total", task="newsworker.poll_feed", **success) == len(paths)
    assert total(samples, "newsworker_tasks_total", task="newsworker.ingest_entry", **success) == entries_ingested
    assert total(samples, "newsworker_tasks_total", task="newsworker.process_article", **success) == articles
    assert total(samples, "newsworker_task_failures_total") == 0
    assert total(samples, "newsworker_task_retries_total") == 0
    assert total(samples, "newsworker_broker_up") == 1
    assert {dict(k)["queue"] for k in samples["newsworker_queue_depth"]} == {"poll", "fetch", "process", "reingest"}


def test_queue_depth_counts_every_priority_list_and_the_unacknowledged() -> None:
    with temporary_redis_server() as url:
        client = redis.Redis.from_url(url)
        client.rpush("poll", b"a", b"b")
        client.rpush("poll\x06\x163", b"c")
        client.rpush("fetch\x06\x169", b"d")
        client.hset("unacked", mapping={"t1": b"x", "t2": b"y", "t3": b"z"})
        depths, unacked = metrics.queue_depths(client, ["poll", "fetch", "process"])
        assert {d.queue: d.ready for d in depths} == {"poll": 3, "fetch": 1, "process": 0}
        assert unacked == 3
        # The collector answers a scrape with the broker down, saying so instead of failing.
        collector = metrics.QueueDepthCollector(f"redis://127.0.0.1:{free_port()}/0", ["poll"])
        families = {f.name: f for f in collector.collect()}
        assert [s.value for s in families["newsworker_broker_up"].samples] == [0]
        assert "newsworker_queue_depth" not in families
        client.close()
