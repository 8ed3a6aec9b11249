"""The ingest path on real SQLite and PostgreSQL with a real HTTP server: idempotent everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage import queries, repo
from storage.db import Database
from storage.models import Article, ArticleUrl, Entry, Feed, FetchLog, Story
from tests.support.httpserver import LocalHTTPServer, Reply
from worker.service import handlers
from worker.service.messages import IngestEntry, LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"


def _rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
        f"<description>Text of {title}.</description></item>"
        for guid, link, title in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{body}</channel></rss>'.encode()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def runtime(database: Database) -> Iterator[tuple[Runtime, LocalDispatcher]]:
    dispatcher = LocalDispatcher()
    settings = load_settings(database_url=database.url, allow_private_networks=True)
    rt = Runtime.build(settings, dispatcher)
    rt.db = database
    yield rt, dispatcher
    rt.fetcher.close()


def _drain(rt: Runtime, dispatcher: LocalDispatcher) -> None:
    dispatcher.drain(rt)


def _count(db: Database, model: type) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_same_entry_twice_gives_one_article_and_one_sighting_per_feed(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, dispatcher = runtime
    item = ("g1", "https://news.example/a?utm_source=one", "A")
    server.route("/one.xml", Reply(200, {"Content-Type": "application/rss+xml"}, _rss(item)))
    server.route(
        "/two.xml",
        Reply(200, {"Content-Type": "application/rss+xml"}, _rss(("other-guid", "http://news.example/a", "A"))),
    )
    with rt.db.transaction() as session:
        one, _ = repo.add_feed(session, server.url("/one.xml"))
        two, _ = repo.add_feed(session, server.url("/two.xml"))
    for _ in range(2):  # the second poll and the re-delivered ingest change nothing
        handlers.poll_feed(rt, one.id)
        handlers.poll_feed(rt, two.id)
        _drain(rt, dispatcher)
    with rt.db.reader() as session:
        entries = session.scalars(select(Entry).order_by(Entry.id)).all()
        assert [(e.feed_id, e.state) for e in entries] == [(one.id, "ingested"), (two.id, "ingested")]
        assert entries[0].article_id == entries[1].article_id
        urls = session.scalars(select(ArticleUrl.url)).all()
    assert _count(rt.db, Article) == 1
    assert sorted(urls) == ["http://news.example/a", "https://news.example/a"]
    assert _count(rt.db, FetchLog) == 4


def test_redelivered_ingest_and_repeated_store_do_not_duplicate(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, dispatcher = runtime
    server.route("/f.xml", Reply(200, {}, (FEEDS / "rss2.xml").read_bytes()))
    with rt.db.transaction() as session:
        feed, _ = repo.add_feed(session, server.url("/f.xml"))
    handlers.poll_feed(rt, feed.id)
    pending = [m.entry_id for m in dispatcher.pending if isinstance(m, IngestEntry)]
    assert len(pending) == 2
    first = [handlers.ingest_entry(rt, int(entry_id)) for entry_id in pending]  # type: ignore[arg-type]
    again = [handlers.ingest_entry(rt, int(entry_id)) for entry_id in pending]  # type: ignore[arg-type]
    assert all(first) and again == [None, None]
    assert _count(rt.db, Article) == 2


def test_conditional_get_and_errors_are_logged_and_scheduled(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, _ = runtime
    body = (FEEDS / "atom.xml").read_bytes()

    def conditional(h: object) -> None:
        handler = h  # BaseHTTPRequestHandler
        if handler.headers.get("If-None-Match") == '"v1"':  # type: ignore[attr-defined]
            Reply(304, {"ETag": '"v1"'})(handler)  # type: ignore[arg-type]
        else:
            Reply(200, {"ETag": '"v1"', "Content-Type": "application/atom+xml"}, body)(handler)  # type: ignore[arg-type]

    server.route("/atom.xml", conditional)
    with rt.db.transaction() as session:
        feed, _ = repo.add_feed(session, server.url("/atom.xml"))
        broken, _ = repo.add_feed(session, server.url("/missing.xml"))
    assert handlers.poll_feed(rt, feed.id).outcome == "ok"  # type: ignore[union-attr]
    assert handlers.poll_feed(rt, feed.id).outcome == "not_modified"  # type: ignore[union-attr]
    assert handlers.poll_feed(rt, broken.id).outcome == "http_error"  # type: ignore[union-attr]
    with rt.db.reader() as session:
        logged = session.execute(
            select(FetchLog.feed_id, FetchLog.outcome, FetchLog.http_status).order_by(FetchLog.id)
        ).all()
        assert [tuple(r) for r in logged] == [
            (feed.id, "ok", 200),
            (feed.id, "not_modified", 304),
            (broken.id, "http_error", 404),
        ]
        stored = session.get(Feed, broken.id)
        assert stored is not None and stored.consecutive_errors == 1 and stored.last_error == "HTTP 404"
        assert stored.next_poll_at > stored.last_polled_at  # type: ignore[operator]


def test_entry_seen_again_after_dropping_off_the_feed_is_not_new(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, dispatcher = runtime
    a = ("a", "https://ex.example/a", "A")
    b = ("b", "https://ex.example/b", "B")
    versions = iter([_rss(a, b), _rss(b), _rss(a, b)])
    server.route("/f.xml", lambda h: Reply(200, {}, next(versions))(h))
    with rt.db.transaction() as session:
        feed, _ = repo.add_feed(session, server.url("/f.xml"))
    new_counts = []
    for _ in range(3):
        record = handlers.poll_feed(rt, feed.id)
        assert record is not None
        new_counts.append(len(record.new_entry_ids))
        _drain(rt, dispatcher)
    assert new_counts == [2, 0, 0]
    assert _count(rt.db, Article) == 2


def test_import_item_goes_through_the_same_store(runtime: tuple[Runtime, LocalDispatcher]) -> None:
    from worker.service.imports import parse_import_line

    rt, dispatcher = runtime
    line = '{"url": "https://ex.example/x?fbclid=1", "title": "X", "text": "Body one.\\n\\nBody two.", "published_at": null}'
    first = handlers.import_item(rt, parse_import_line(line), default_source="file.jsonl")
    again = handlers.import_item(rt, parse_import_line(line), default_source="file.jsonl")
    _drain(rt, dispatcher)
    assert first.created and not again.created and first.article_id == again.article_id
    with rt.db.reader() as session:
        rows = list(queries.export_rows(session))
        story_id = session.scalar(select(Story.id))  # processing linked it into a new story
    assert story_id is not None
    assert rows == [
        {
            "id": first.article_id,
            "url": "https://ex.example/x",
            "canonical_url": "https://ex.example/x",
            "urls": ["https://ex.example/x"],
            "title": "X",
            "text": "Body one.\n\nBody two.",
            "published_at": None,
            "authors": [],
            "dateline": None,
            "agency": None,
            "image_url": None,
            "language": None,
            "page_kind": "article",
            "word_count": 4,
            "duplicate_of": None,
            "story_id": story_id,
            "sources": ["file.jsonl"],
        }
    ]
