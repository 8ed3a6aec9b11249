"""Re-ingest through a real `celery worker` on a private Redis and a throw-away PostgreSQL database."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from storage.db import Database
from storage.models import Article, ArticleUrl, Entry
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import run_cli, service_env, start, stop
from tests.support.services import temporary_postgres_database

pytestmark = pytest.mark.e2e

ITEMS_PER_FEED = 25


def rss(name: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>{name} story {i}</title><link>https://{name}.example/news/{i}</link>"
        f"<guid>{name}-{i}</guid><pubDate>Mon, 06 May 2024 {i % 24:02d}:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;{name} report number {i}. The council met on Tuesday.&lt;/p&gt;</description></item>"
        for i in range(count)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>https://{name}.example/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        for name in ("alpha", "beta"):
            srv.route(
                f"/{name}.xml",
                Reply(200, {"Content-Type": "application/rss+xml", "ETag": f'"{name}-v1"'}, rss(name, ITEMS_PER_FEED)),
            )
        yield srv


def test_reingest_through_a_real_worker(server: LocalHTTPServer, redis_url: str, tmp_path: Path) -> None:
    broker = redis_url.rsplit("/", 1)[0] + "/5"  # a Redis database of its own
    with temporary_postgres_database("nwreingest") as database_url:
        env = service_env(
            NEWSWORKER_DATABASE_URL=database_url,
            NEWSWORKER_BROKER_URL=broker,
            NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
            NEWSWORKER_WORKER_CONCURRENCY="2",
            # Every article page lives on two hosts; politeness limits are tested elsewhere.
            NEWSWORKER_HOST_REQUESTS_PER_MINUTE="100000",
        )

        def cli(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
            return run_cli(*args, env=env, cwd=tmp_path, expect=expect, timeout=180)

        def as_json(result: subprocess.CompletedProcess[str]) -> Any:
            return json.loads(result.stdout)

        cli("db", "upgrade")
        (tmp_path / "feeds.txt").write_text(f"{server.url('/alpha.xml')}\n{server.url('/beta.xml')}\n")
        cli("run", "--once", "--feeds", "feeds.txt")  # the articles to re-ingest, stored in-process
        total = 2 * ITEMS_PER_FEED
        db = Database(database_url)
        try:

            def snapshot() -> dict[str, Any]:
                with db.reader() as s:
                    return {
                        "articles": sorted(s.execute(select(Article.id, Article.url)).all()),
                        "urls": sorted(s.execute(select(ArticleUrl.url, ArticleUrl.article_id)).all()),
                        "entries": sorted(s.execute(select(Entry.id, Entry.feed_id, Entry.article_id)).all()),
                    }

            before = snapshot()
            assert len(before["articles"]) == total
            # Five articles now have a corrected version in their feed entry.
            with db.transaction() as s:
                changed_ids = sorted(s.scalars(select(Article.id).order_by(Article.id).limit(5)))
                old_hashes = dict(
                    s.execute(select(Article.id, Article.content_hash).where(Article.id.in_(changed_ids))).all()
                )
                for article_id in changed_ids:
                    s.execute(
                        update(Entry)
                        .where(Entry.article_id == article_id)
                        .values(content_html=f"<p>Corrected report {article_id}. The council met on Wednesday.</p>")
                    )

            # No worker yet: --no-wait returns with a run id, and the batches wait on the reingest queue.
            queued = as_json(cli("reingest", "--all", "--no-wait", "--batch-size", "7", "--json"))
            run_id = queued["run_id"]
            assert queued["total"] == total
            stats = as_json(cli("stats", "--json"))
            assert stats["queues"]["reingest"] == math.ceil(total / 7)
            assert stats["reingest"] == {"active_runs": 1, "pending_items": total}
            pending = as_json(cli("reingest", "status", str(run_id), "--json"))
            assert (pending["status"], pending["enqueued"], pending["pending"]) == ("running", total, total)

            worker = start(["worker"], env, tmp_path, tmp_path / "worker.log")
            try:
                # --watch follows the run from the database until it is finished.
                final = as_json(cli("reingest", "status", str(run_id), "--watch", "--json"))
                assert final["finished"] and final["status"] == "done" and final["percent"] == 100.0
                assert (final["done"], final["failed"], final["changed"]) == (total, 0, 5)
                assert snapshot() == before  # same rows, ids, addresses and sightings
                with db.reader() as s:
                    assert s.scalar(select(func.count()).select_from(Article)) == total
                    for article in s.scalars(select(Article).where(Article.id.in_(changed_ids))):
                        assert "Wednesday" in article.text
                        assert article.previous_hash == old_hashes[article.id]
                        assert article.previous_changed_at is not None

                # Waiting form with a feed re-poll that ignores the stored ETag.
                hits_before = server.hit_count()
                waited = cli("reingest", "--feed", server.url("/beta.xml"), "--refetch-feeds", "--json")
                summary = as_json(waited)
                assert (summary["total"], summary["done"], summary["percent"]) == (
                    ITEMS_PER_FEED,
                    ITEMS_PER_FEED,
                    100.0,
                )
                from tests.support.processes import wait_for

                wait_for(lambda: server.hit_count() > hits_before, 30, "the forced re-poll of the beta feed")
                repoll = server.hits[-1]
                assert repoll.path == "/beta.xml" and "If-None-Match" not in repoll.headers
                assert snapshot() == before
            finally:
                worker_code = stop(worker)
            logs = (tmp_path / "worker.log").read_text(errors="replace")
        finally:
            db.dispose()
        assert "Traceback" not in logs, logs[-3000:]
        assert worker_code == 0
