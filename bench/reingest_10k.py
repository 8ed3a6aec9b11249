"""Re-ingest 10,000 stored articles in-process on SQLite and PostgreSQL.

For each backend: store N feed entries, ingest them through the normal path
(``handlers.ingest_entry`` + ``process_article``, timed), change the feed
content of 10% of them, then re-ingest every article with the same code as
``newsworker reingest --all`` in embedded mode (timed). Reports rows before and
after (they must be equal), changed articles, and the re-ingest/ingest time
ratio measured side by side in one run.

    python -m bench.reingest_10k [--articles 10000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, update

from storage import queries, repo
from storage.db import Database
from storage.models import Article, ArticleUrl, Entry
from storage.schema import upgrade
from storage.upsert import insert_ignore
from worker.service import handlers
from worker.service import reingest as ops
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings


@dataclass(frozen=True)
class Figures:
    backend: str
    articles_before: int
    articles_after: int
    urls_before: int
    urls_after: int
    entries_before: int
    entries_after: int
    ingest_seconds: float
    reingest_seconds: float
    changed: int
    failed: int

    @property
    def ratio(self) -> float:
        return self.reingest_seconds / self.ingest_seconds


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    from tests.support.services import temporary_postgres_database

    with temporary_postgres_database("nwbench") as url:
        yield url


def counts(db: Database) -> tuple[int, int, int]:
    with db.reader() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Article)) or 0),
            int(s.scalar(select(func.count()).select_from(ArticleUrl)) or 0),
            int(s.scalar(select(func.count()).select_from(Entry)) or 0),
        )


def seed_entries(db: Database, n: int) -> list[int]:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    with db.transaction() as s:
        feed, _ = repo.add_feed(s, "https://bench.example/rss", title="bench")
        feed_id = feed.id
    rows = [
        {
            "source": repo.feed_source(feed_id),
            "feed_id": feed_id,
            "entry_key": f"guid:{i}",
            "guid": str(i),
            "url": f"https://bench.example/news/{i}",
            "link_key": f"bench.example/news/{i}",
            "title": f"Council vote number {i}",
            "content_html": f"<p>Report {i}: the council voted {i % 97} to {i % 13} on Tuesday.</p>"
            "<p>The decision takes effect next month, officials said.</p>",
            "authors": ["Desk"],
            "published_at": start + timedelta(minutes=i),
            "state": "pending",
            "first_seen_at": start,
            "last_seen_at": start,
        }
        for i in range(n)
    ]
    for chunk in range(0, n, 1000):
        with db.transaction() as s:
            insert_ignore(s, Entry.__table__, rows[chunk : chunk + 1000], ["source", "entry_key"])  # type: ignore[arg-type]
    with db.reader() as s:
        return list(s.scalars(select(Entry.id).order_by(Entry.id)))


def measure(backend: str, n: int) -> Figures:
    with database(backend) as url:
        db = Database(url)
        upgrade(db.engine, url)
        entry_ids = seed_entries(db, n)
        dispatcher = LocalDispatcher()
        rt = Runtime.build(load_settings(database_url=url), dispatcher)

        began = time.perf_counter()
        for entry_id in entry_ids:
            handlers.ingest_entry(rt, entry_id)
            dispatcher.drain(rt)
        ingest_seconds = time.perf_counter() - began

        with db.transaction() as s:  # 10% of the feed entries now carry a corrected text
            s.execute(
                update(Entry)
                .where(Entry.id % 10 == 0)
                .values(content_html="<p>Correction: the council voted again on Wednesday.</p>")
            )
        before = counts(db)

        began = time.perf_counter()
        plan = ops.plan_run(rt, queries.ArticleFilter(), select_all=True, mode="inline", refetch_feeds=False)

        def drain() -> None:
            dispatcher.drain(rt)

        stopped = ops.run_inline(rt, plan.run_id, between=drain)
        reingest_seconds = time.perf_counter() - began
        assert stopped is None
        progress = ops.progress(rt, plan.run_id)
        after = counts(db)
        rt.close()
        db.dispose()
    return Figures(
        backend=backend,
        articles_before=before[0],
        articles_after=after[0],
        urls_before=before[1],
        urls_after=after[1],
        entries_before=before[2],
        entries_after=after[2],
        ingest_seconds=ingest_seconds,
        reingest_seconds=reingest_seconds,
        changed=progress.changed,
        failed=progress.failed,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = [measure(backend, args.articles) for backend in args.backends.split(",")]
    print(f"re-ingest of {args.articles} articles, in-process (embedded mode code path)")
    header = (
        f"{'backend':<11} {'articles before/after':>22} {'addresses b/a':>15} {'entries b/a':>13} "
        f"{'ingest s':>9} {'reingest s':>11} {'art/s':>7} {'reingest/ingest':>16} {'changed':>8} {'failed':>7}"
    )
    print(header)
    ok = True
    for r in results:
        print(
            f"{r.backend:<11} {f'{r.articles_before}/{r.articles_after}':>22} "
            f"{f'{r.urls_before}/{r.urls_after}':>15} {f'{r.entries_before}/{r.entries_after}':>13} "
            f"{r.ingest_seconds:>9.1f} {r.reingest_seconds:>11.1f} {args.articles / r.reingest_seconds:>7.0f} "
            f"{r.ratio:>16.2f} {r.changed:>8} {r.failed:>7}"
        )
        ok &= (r.articles_before, r.urls_before, r.entries_before) == (r.articles_after, r.urls_after, r.entries_after)
        ok &= r.changed == args.articles // 10 and r.failed == 0
    if len(results) == 2:
        print(
            f"postgresql/sqlite re-ingest time ratio: {results[1].reingest_seconds / results[0].reingest_seconds:.2f}"
        )
    print("row counts unchanged and every corrected article updated" if ok else "MISMATCH: see the table above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
