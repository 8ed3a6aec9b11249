"""The embedded mode's pool: many fetches at once, one writer, per-host limits, nothing lost or doubled."""

from __future__ import annotations

import http.server
import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from storage import repo
from storage.db import Database
from storage.models import Article, ArticleUrl, Entry, Feed
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import service_env, wait_for
from worker.cli.common import counting
from worker.service import handlers
from worker.service.messages import LocalDispatcher
from worker.service.pool import PooledDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings

WORDS = [
    "council",
    "harbour",
    "budget",
    "vote",
    "river",
    "bridge",
    "school",
    "teachers",
    "strike",
    "weather",
    "storm",
    "coast",
    "police",
    "inquiry",
    "hospital",
    "nurses",
    "minister",
    "election",
    "market",
    "prices",
    "farmers",
    "drought",
    "railway",
    "station",
    "museum",
    "festival",
]


def _article_html(n: int) -> bytes:
    # a distinct text per page (no two are near-duplicates), long enough to be the article
    sentences = [
        f"Report {n}: the {WORDS[(n + i) % len(WORDS)]} and the {WORDS[(n * 7 + i * 3) % len(WORDS)]} "
        f"were discussed for the {i + n}th time by {WORDS[(n * 3 + i) % len(WORDS)]} officials on day {n * 31 + i}."
        for i in range(14)
    ]
    body = "".join(f"<p>{s}</p>" for s in sentences)
    return (
        f"<html><head><title>Story {n}</title></head><body><nav>Home | World</nav>"
        f"<article><h1>Story {n}</h1>{body}</article><footer>Copyright</footer></body></html>"
    ).encode()


def _rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>t</title><link>{u}</link><guid>{u}</guid></item>" for u in links)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>{items}</channel></rss>".encode()


class Site:
    """Two hosts (127.0.0.1 and 127.0.0.2) serving slow article pages; counts requests in flight per host."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.page_hits: Counter[str] = Counter()

    def page(self, n: int) -> Any:
        def handle(h: http.server.BaseHTTPRequestHandler) -> None:
            host = h.headers.get("Host", "").split(":")[0]
            with self.lock:
                self.in_flight[host] += 1
                self.page_hits[h.path] += 1
                self.peak[host] = max(self.peak[host], self.in_flight[host])
                self.peak_total = max(self.peak_total, sum(self.in_flight.values()))
            try:
                time.sleep(self.delay)
                Reply(200, {"Content-Type": "text/html; charset=utf-8"}, _article_html(n))(h)
            finally:
                with self.lock:
                    self.in_flight[host] -= 1

        return handle


@pytest.fixture
def servers() -> Iterator[tuple[LocalHTTPServer, LocalHTTPServer]]:
    with LocalHTTPServer("127.0.0.1") as one, LocalHTTPServer("127.0.0.2") as two:
        yield one, two


def _publish(site: Site, servers: tuple[LocalHTTPServer, LocalHTTPServer], per_feed: int) -> tuple[list[str], int]:
    """Two feeds per host; the second feed of each host repeats three links of its first. Returns
    the feed addresses and the number of distinct pages."""
    feeds: list[str] = []
    n = 0
    for srv in servers:
        first: list[str] = []
        for k in range(2):
            links = []
            for _ in range(per_feed):
                path = f"/a/{n}"
                srv.route(path, site.page(n))
                links.append(srv.url(path))
                n += 1
            if k == 0:
                first = links
            else:
                links += first[:3]  # syndicated: the same address in two feeds
            srv.route(f"/feed{k}.xml", Reply(200, {"Content-Type": "application/rss+xml"}, _rss(links)))
            feeds.append(srv.url(f"/feed{k}.xml"))
    return feeds, n


@pytest.mark.parametrize("normalisers", [0, 1], ids=["normalised-in-threads", "one-normalising-process"])
def test_pool_fetches_concurrently_writes_from_one_thread_and_loses_or_doubles_nothing(
    database: Database, servers: tuple[LocalHTTPServer, LocalHTTPServer], normalisers: int
) -> None:
    site = Site(delay=0.2)
    feeds, pages = _publish(site, servers, per_feed=8)
    settings = load_settings(
        database_url=database.url,
        allow_private_networks=True,
        fetch_concurrency=8,
        host_max_concurrency=2,
        host_requests_per_minute=10_000,
        normalise_processes=normalisers,
    )
    rt = Runtime.build(settings, LocalDispatcher())
    rt.db = database
    dispatcher = PooledDispatcher.attach(rt)
    dispatcher.start_processes_at = 1  # at once, for this small site
    sql_threads: set[int] = set()

    def record(*_: Any) -> None:
        sql_threads.add(threading.get_ident())

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with database.transaction() as session:
            for url in feeds:
                repo.add_feed(session, url)
        stats: Counter[str] = Counter()
        handlers.dispatch_due_feeds(rt)
        dispatcher.drain(rt, counting(stats))
        # the normalising process outlives the drain (a long run's next pass reuses it)...
        assert len(multiprocessing.active_children()) == normalisers
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
        rt.stop_normalising()
        rt.fetcher.close()
    assert multiprocessing.active_children() == []  # ...and ends with the runtime

    # one writer: every statement ran in this thread, none in the fetch threads
    assert sql_threads == {threading.get_ident()}
    # concurrent, within the per-host limit
    assert max(site.peak.values()) == 2
    assert site.peak_total > 2
    assert dispatcher.stats.peak_in_flight > 2
    # nothing lost, nothing doubled
    assert stats["feeds_polled"] == len(feeds)
    assert stats["articles_new"] == pages
    with database.reader() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == pages
        assert session.scalar(select(func.count()).select_from(ArticleUrl)) == pages
        assert session.scalar(select(func.count()).select_from(Article).where(Article.processed_at.is_(None))) == 0
        # every page was extracted (in the normalising process when there is one): its text, no chrome
        texts = list(session.scalars(select(Article.text)))
        assert sorted(int(t.split("Report ", 1)[1].split(":", 1)[0]) for t in texts) == list(range(pages))
        assert not any("Home | World" in t or "Copyright" in t for t in texts)
        entries = session.execute(select(Entry.state, Entry.article_id)).all()
        assert len(entries) == pages + 2 * 3
        assert {state for state, _ in entries} == {"ingested"}
        assert len({article for _, article in entries}) == pages
        assert session.scalar(select(func.count()).select_from(Feed).where(Feed.poll_token.is_not(None))) == 0
    assert set(site.page_hits) == {f"/a/{n}" for n in range(pages)}


def _sqlite_count(path: Path, sql: str) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _sqlite_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows for an assertion's message (what a failed run left)."""
    with sqlite3.connect(path, timeout=5) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def _slow_run(
    servers: tuple[LocalHTTPServer, LocalHTTPServer], tmp_path: Path
) -> tuple[list[str], dict[str, str], Path, int]:
    """A `run --once` over 40 pages served slowly enough to stop it half way: (command, env,
    SQLite file, pages); the command without its last two words polls the stored feeds only."""
    site = Site(delay=0.3)
    feeds, pages = _publish(site, servers, per_feed=10)
    (tmp_path / "feeds.txt").write_text("\n".join(feeds) + "\n")
    db_path = tmp_path / "nw.db"
    env = service_env(
        NEWSWORKER_DATABASE_URL=f"sqlite:///{db_path}",
        NEWSWORKER_ALLOW_PRIVATE_NETWORKS="true",
        NEWSWORKER_FETCH_CONCURRENCY="4",
        NEWSWORKER_HOST_REQUESTS_PER_MINUTE="10000",
    )
    command = [sys.executable, "-m", "worker", "run", "--once", "--feeds", str(tmp_path / "feeds.txt")]
    return command, env, db_path, pages


def test_ctrl_c_leaves_a_consistent_database_and_the_next_run_finishes_the_work(
    servers: tuple[LocalHTTPServer, LocalHTTPServer], tmp_path: Path
) -> None:
    command, env, db_path, pages = _slow_run(servers, tmp_path)
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _sqlite_count(db_path, "select count(*) from articles") >= 5, 60, "a few articles stored")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    stored = _sqlite_count(db_path, "select count(*) from articles")
    assert 5 <= stored < pages  # interrupted half way
    # consistent: no poll lease left held, every entry pending or ingested into an existing article
    assert _sqlite_count(db_path, "select count(*) from feeds where poll_token is not null") == 0
    assert _sqlite_count(db_path, "select count(*) from entries where state not in ('pending', 'ingested')") == 0
    assert (
        _sqlite_count(
            db_path,
            "select count(*) from entries where state = 'ingested' and article_id not in (select id from articles)",
        )
        == 0
    )

    again = subprocess.run(command[:5], env=env, cwd=tmp_path, capture_output=True, timeout=180)
    assert again.returncode == 0, again.stderr.decode()
    left = _sqlite_rows(db_path, "select id, state, last_error from entries where state != 'ingested'")
    work = _sqlite_rows(db_path, "select * from work_items")
    if _sqlite_count(db_path, "select count(*) from articles") != pages:  # the whole story, untruncated
        pytest.fail(
            f"{_sqlite_count(db_path, 'select count(*) from articles')} of {pages} articles after the second run;"
            f"\nentries left: {left}\nwork items: {work}\nfirst run's log (end): {err.decode()[-4000:]}"
            f"\nsecond run's log (end): {again.stderr.decode()[-6000:]}",
            pytrace=False,
        )
    assert _sqlite_count(db_path, "select count(*) from article_urls") == pages
    assert _sqlite_count(db_path, "select count(*) from entries where state != 'ingested'") == 0
    assert _sqlite_count(db_path, "select count(*) from articles where processed_at is null") == 0


def test_a_killed_run_leaves_nothing_for_a_full_lease_the_next_run_finishes_the_work(
    servers: tuple[LocalHTTPServer, LocalHTTPServer], tmp_path: Path
) -> None:
    # SIGKILL frees nothing: the pages the run had leased waited out a full lease (the hard time
    # limit and a margin) before; the next run on this host sees the process is gone.
    command, env, db_path, pages = _slow_run(servers, tmp_path)
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _sqlite_count(db_path, "select count(*) from articles") >= 5, 60, "a few articles stored")
        wait_for(
            lambda: _sqlite_count(db_path, "select count(*) from work_items where lease_owner is not null") > 0,
            30,
            "work leased",
        )
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _sqlite_count(db_path, "select count(*) from articles") < pages

    again = subprocess.run(command[:5], env=env, cwd=tmp_path, capture_output=True, timeout=180)
    assert again.returncode == 0, again.stderr.decode()
    assert _sqlite_count(db_path, "select count(*) from articles") == pages, again.stderr.decode()[-4000:]
    assert _sqlite_count(db_path, "select count(*) from entries where state != 'ingested'") == 0
    assert _sqlite_count(db_path, "select count(*) from work_items") == 0
