"""End to end: real HTTP server, real Redis, real PostgreSQL, real `celery worker` and beat processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from storage.db import Database
from storage.models import Article, Entry, Feed, Story
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import run_cli, service_env, start, stop, wait_for
from tests.support.services import temporary_postgres_database

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"

pytestmark = pytest.mark.e2e


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        for name in ("rss2.xml", "atom.xml", "rss1.rdf"):
            srv.route(f"/{name}", Reply(200, {"Content-Type": "application/xml"}, (FEEDS / name).read_bytes()))
        yield srv


def test_worker_and_beat_ingest_feeds_added_through_the_cli(
    server: LocalHTTPServer, redis_url: str, tmp_path: Path
) -> None:
    with temporary_postgres_database("nwe2e") as database_url:
        env = service_env(
            NEWSWORKER_DATABASE_URL=database_url,
            NEWSWORKER_BROKER_URL=redis_url,
            NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
            NEWSWORKER_DISPATCH_INTERVAL_SECONDS="1",
            NEWSWORKER_STORY_REFINE_INTERVAL_SECONDS="1",
            NEWSWORKER_WORKER_CONCURRENCY="2",
            NEWSWORKER_EVENTS_STREAM=f"e2e:events:{uuid.uuid4().hex}",
        )

        def cli(*args: str) -> None:
            run_cli(*args, env=env, cwd=tmp_path)

        cli("db", "upgrade")
        for name in ("rss2.xml", "atom.xml", "rss1.rdf"):
            cli("feeds", "add", server.url(f"/{name}"))
        worker = start(["worker"], env, tmp_path, tmp_path / "worker.log")
        beat = start(["beat", "--schedule", str(tmp_path / "beat-schedule")], env, tmp_path, tmp_path / "beat.log")
        db = Database(database_url)
        try:

            def processed_articles() -> int:
                with db.reader() as session:
                    query = select(func.count()).select_from(Article).where(Article.processed_at.is_not(None))
                    return int(session.scalar(query) or 0)

            wait_for(lambda: processed_articles() == 6, 90, "six processed articles from three feeds")
            with db.reader() as session:
                assert session.scalar(select(func.count()).select_from(Entry).where(Entry.state != "ingested")) == 0
                polled = session.scalars(select(Feed.last_success_at)).all()
                assert all(polled)
                processed = session.scalar(
                    select(func.count()).select_from(Article).where(Article.processed_at.is_not(None))
                )
                assert processed == 6

            def pending_stories() -> int:  # beat sends refine_stories; the worker settles them
                with db.reader() as session:
                    query = select(func.count()).select_from(Story).where(Story.refine_pending)
                    return int(session.scalar(query) or 0)

            wait_for(lambda: pending_stories() == 0, 30, "the refinement pass to settle every story")
            with db.reader() as session:
                live = set(session.scalars(select(Story.id).where(Story.merged_into.is_(None))))
                assert set(session.scalars(select(Article.story_id))) <= live

            # beat's relay (every 2 s) publishes the outbox to the stream: one article.created per article
            client = redis.Redis.from_url(redis_url, decode_responses=True)
            stream = env["NEWSWORKER_EVENTS_STREAM"]

            def created_on_stream() -> int:
                return sum(1 for _, f in client.xrange(stream) if f["type"] == "article.created")

            wait_for(lambda: created_on_stream() >= 6, 30, "the relay to publish the article events")
            assert created_on_stream() == 6
        finally:
            db.dispose()
            beat_code = stop(beat)
            worker_code = stop(worker)
            logs = (tmp_path / "worker.log").read_text(errors="replace")
        assert "Traceback" not in logs, logs[-3000:]
        assert worker_code == 0 and beat_code == 0
