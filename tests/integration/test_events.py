"""Events (issue #17) on real PostgreSQL, SQLite and Redis: the outbox is written in the
transaction of each change, relayed at-least-once to a Redis Stream, in order per subject."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from storage import outbox, repo
from storage.db import Database
from storage.models import Article, EventOutbox, Story
from tests.support.httpserver import LocalHTTPServer, Reply
from worker.model import events
from worker.model.clock import utcnow
from worker.model.events import Event
from worker.service import emit, handlers
from worker.service import events as relay
from worker.service.imports import ImportItem
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings

FLOOD = (
    "Heavy rain flooded the old town of Valencia on Tuesday, and the regional government said "
    "four people were missing after the river Turia burst its banks near the central market. "
    "Rescue teams from Madrid and Castellon joined the search overnight. The mayor of Valencia "
    "asked residents to stay on upper floors, while trains to Barcelona were suspended until "
    "Thursday. Meteorologists warned that a second storm could reach the coast by the weekend."
)
FLOOD_2 = (
    "Four people are missing in Valencia after the river Turia burst its banks on Tuesday and "
    "flooded the old town around the central market, the regional government said. Rescue teams "
    "from Madrid and Castellon searched overnight, trains to Barcelona stopped until Thursday, "
    "and the mayor told residents to stay on upper floors as a second storm approached the coast."
)
CHESS = (
    "The Norwegian grandmaster won the rapid chess championship in Samarkand on Sunday after a "
    "tense final round against the Indian prodigy, who had led the standings for three days. "
    "Organisers said the blitz event starts on Monday with one hundred and twenty players from "
    "forty countries, and the prize fund was raised to one million dollars this year."
)


def _rss(items: Sequence[tuple[str, str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid><description>{text}</description></item>"
        for guid, link, title, text in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{body}</channel></rss>'.encode()


@pytest.fixture
def pg(_migrated_postgres: str) -> Iterator[Database]:
    from tests.conftest import _truncate_postgres

    db = Database(_migrated_postgres)
    _truncate_postgres(db)
    yield db
    db.dispose()


def _runtime(db: Database, **settings: Any) -> Runtime:
    rt = Runtime.build(
        load_settings(**{"database_url": db.url, "allow_private_networks": True, **settings}), LocalDispatcher()
    )
    rt.db.dispose()
    rt.db = db
    return rt


@pytest.fixture
def stream() -> str:
    return f"test:events:{uuid.uuid4().hex}"


def _count(db: Database, model: type) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _group_read(client: redis.Redis, stream: str, group: str = "tests") -> list[Event]:
    """Everything the group has not yet seen, acknowledged (a real consumer group)."""
    out: list[Event] = []
    while True:
        got = client.xreadgroup(group, "c1", {stream: ">"}, count=1000)
        if not got:
            return out
        for _name, entries in got:
            for entry_id, fields in entries:
                out.append(Event.from_stream_fields(fields))
                client.xack(stream, group, entry_id)


def _outbox_events(db: Database) -> list[tuple[int, Event, bool]]:
    with db.reader() as session:
        rows = session.scalars(select(EventOutbox).order_by(EventOutbox.seq)).all()
        return [
            (r.seq, Event(r.type, r.subject, r.data, r.event_id, r.occurred_at), r.published_at is not None)
            for r in rows
        ]


def test_an_ingest_produces_exactly_the_expected_events_in_a_consumer_group(
    pg: Database, redis_url: str, stream: str
) -> None:
    rt = _runtime(pg, redis_url=redis_url, events_stream=stream)
    client = redis.Redis.from_url(redis_url)
    client.xgroup_create(stream, "tests", id="0", mkstream=True)
    with LocalHTTPServer() as server:
        items = [
            ("g1", server.url("/a/flood"), "River floods Valencia", FLOOD),
            ("g2", server.url("/b/flood"), "Valencia flood: four missing", FLOOD_2),
            ("g3", server.url("/c/chess"), "Chess title decided", CHESS),
            ("g4", server.url("/d/flood-copy"), "River floods Valencia (copy)", FLOOD),  # a duplicate
        ]
        server.route("/feed.xml", Reply(200, {"Content-Type": "application/rss+xml"}, _rss(items)))
        with rt.db.transaction() as session:
            feed, _ = repo.add_feed(session, server.url("/feed.xml"))
        for _ in range(2):  # the second poll finds nothing new: no event
            handlers.poll_feed(rt, feed.id)
            rt.dispatcher.drain(rt)  # type: ignore[attr-defined]
    report = relay.relay_events(rt)
    received = _group_read(client, stream)

    with pg.reader() as session:
        articles = session.execute(select(Article.id, Article.duplicate_of, Article.story_id)).all()
        story_ids = set(session.scalars(select(Story.id)))
    by_type: dict[str, list[Event]] = {}
    for e in received:
        by_type.setdefault(e.type, []).append(e)
    assert report.published == len(received) == _count(pg, EventOutbox)
    assert len({e.id for e in received}) == len(received)
    # article.created: exactly one per article
    assert sorted(e.data["article_id"] for e in by_type["article.created"]) == sorted(a.id for a in articles)
    assert len(by_type["article.created"]) == _count(pg, Article) == 4
    # article.duplicate: the copy, pointing at its original
    duplicates = {(a.id, a.duplicate_of) for a in articles if a.duplicate_of is not None}
    assert duplicates and {(e.data["article_id"], e.data["original_id"]) for e in by_type["article.duplicate"]} == (
        duplicates
    )
    # story.created once per story; story.updated for every other article that joined one
    assert {e.data["story_id"] for e in by_type["story.created"]} == story_ids
    assert len(by_type["story.created"]) == len(story_ids)
    starters = [a for e in by_type["story.created"] for a in e.data["article_ids"]]
    joiners = [a for e in by_type.get("story.updated", []) for a in e.data["article_ids"]]
    assert sorted(starters + joiners) == sorted(a.id for a in articles if a.story_id is not None)
    assert set(by_type) <= {"article.created", "article.duplicate", "story.created", "story.updated"}
    # nothing left unpublished; a second relay publishes nothing again
    assert all(published for _, _, published in _outbox_events(pg))
    assert relay.relay_events(rt).published == 0
    assert _group_read(client, stream) == []
    rt.fetcher.close()


def _import(rt: Runtime, n: int) -> None:
    for i in range(n):
        text = " ".join(uuid.uuid4().hex[:8] for _ in range(80))  # nothing alike: no duplicates
        item = ImportItem(f"https://news.example/{uuid.uuid4().hex}", f"T{i}", text, None, None, None)
        handlers.import_item(rt, item, default_source="test")


class _DiesAfter:
    """The real stream publisher, killed after ``n`` events of a batch are on the stream."""

    def __init__(self, real: relay.StreamPublisher, n: int) -> None:
        self.real, self.n = real, n

    def publish(self, rows: Sequence[outbox.OutboxRow]) -> None:
        self.real.publish(rows[: self.n])
        raise RuntimeError("relay killed mid-batch")


def test_a_relay_killed_mid_batch_loses_no_event(pg: Database, redis_url: str, stream: str) -> None:
    rt = _runtime(pg, redis_url=redis_url, events_stream=stream)
    _import(rt, 30)
    real = relay.stream_publisher(rt.settings)
    assert real is not None
    with pytest.raises(RuntimeError, match="killed"):
        relay.relay_events(rt, publisher=_DiesAfter(real, 10), batch_size=25)
    assert not any(published for _, _, published in _outbox_events(pg))  # the batch rolled back
    client = redis.Redis.from_url(redis_url)
    assert client.xlen(stream) == 10
    assert relay.relay_events(rt).published == 30
    on_stream = [Event.from_stream_fields(f) for _, f in client.xrange(stream)]
    ids = Counter(e.id for e in on_stream)
    stored = [e.id for _, e, _ in _outbox_events(pg)]
    assert set(ids) == set(stored) and len(stored) == 30  # none lost
    assert sum(ids.values()) == 40 and all(n <= 2 for n in ids.values())  # the 10 again, same ids
    assert sum(1 for _, e, _ in _outbox_events(pg) if e.type == "article.created") == _count(pg, Article)
    rt.fetcher.close()


def test_a_rolled_back_transaction_emits_nothing(database: Database, redis_url: str, stream: str) -> None:
    rt = _runtime(database, redis_url=redis_url, events_stream=stream)
    with pytest.raises(RuntimeError), rt.db.transaction() as session:
        outbox.add(session, emit.stored_article(1, created=True, duplicate_of=None))
        outbox.add(session, [events.story_created(1, [1], cause="link")])
        raise RuntimeError("the change failed")
    assert _count(database, EventOutbox) == 0
    assert relay.relay_events(rt).published == 0
    assert redis.Redis.from_url(redis_url).xlen(stream) == 0
    rt.fetcher.close()


def test_concurrent_relays_on_postgresql_never_publish_an_event_twice(
    pg: Database, redis_url: str, stream: str
) -> None:
    rt = _runtime(pg, redis_url=redis_url, events_stream=stream)
    written: list[Event] = []
    with rt.db.transaction() as session:
        for i in range(1200):
            # 40 subjects, each with many events: order per subject must survive 4 relays
            e = events.story_updated(i % 40, [i], cause="link")
            written.append(e)
        outbox.add(session, written)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            for _ in range(200):
                if relay.relay_events(rt, batch_size=37, max_batches=1).published == 0 and not _unpublished(pg):
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    on_stream = [Event.from_stream_fields(f) for _, f in redis.Redis.from_url(redis_url).xrange(stream)]
    assert len(on_stream) == 1200
    assert len({e.id for e in on_stream}) == 1200
    # per subject, the stream holds the events in the order they were written
    order = {e.id: i for i, e in enumerate(written)}
    by_subject: dict[str, list[int]] = {}
    for e in on_stream:
        by_subject.setdefault(e.subject, []).append(order[e.id])
    assert all(seq == sorted(seq) for seq in by_subject.values())
    rt.fetcher.close()


def _unpublished(db: Database) -> int:
    with db.reader() as session:
        return outbox.backlog(session).unpublished


def test_feed_status_changes_are_events(database: Database) -> None:
    rt = _runtime(database, failing_after_seconds=0)
    replies = iter([Reply(500), Reply(200, {"Content-Type": "application/rss+xml"}, _rss([])), Reply(410)])
    with LocalHTTPServer() as server:
        server.route("/f.xml", lambda h: next(replies)(h))
        with rt.db.transaction() as session:
            feed, _ = repo.add_feed(session, server.url("/f.xml"))
        for _ in range(3):
            handlers.poll_feed(rt, feed.id)
    got = [(e.type, e.data["previous_status"], e.data["status"]) for _, e, _ in _outbox_events(database)]
    assert got == [
        ("feed.failing", "ok", "failing"),
        ("feed.recovered", "failing", "ok"),
        ("feed.gone", "ok", "gone"),
    ]
    rt.fetcher.close()


def test_without_redis_events_stay_in_the_outbox_and_are_pruned_after_the_retention(database: Database) -> None:
    rt = _runtime(database, events_retention_seconds=0)
    _import(rt, 3)
    report = relay.relay_events(rt, prune=False)
    assert report.published == 0
    with database.reader() as session:
        assert outbox.backlog(session).unpublished == 3
        assert [r.event.type for r in outbox.read_after(session, 0)] == ["article.created"] * 3
    assert relay.prune_events(rt) == 3  # no sink: the outbox is the log, kept for the retention
    assert _count(database, EventOutbox) == 0
    rt.fetcher.close()


def test_published_events_are_pruned_unpublished_ones_kept(database: Database, redis_url: str, stream: str) -> None:
    rt = _runtime(database, redis_url=redis_url, events_stream=stream, events_retention_seconds=0)
    _import(rt, 2)
    relay.relay_events(rt, prune=False)
    _import(rt, 1)
    with database.reader() as session:
        backlog = outbox.backlog(session)
    assert backlog.unpublished == 1 and backlog.oldest_at is not None
    assert 0 <= backlog.oldest_age_seconds(utcnow()) < 60
    assert relay.prune_events(rt) == 2
    assert _count(database, EventOutbox) == 1
    rt.fetcher.close()


def test_webhook_gets_signed_events_in_order_and_retries_after_a_failure(database: Database) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    statuses = iter([200, 503])  # the second event fails once

    def hook(h: Any) -> None:
        body = h.rfile.read(int(h.headers["Content-Length"]))
        status = next(statuses, 200)
        if status == 200:
            received.append((dict(h.headers.items()), body))
        Reply(status)(h)

    with LocalHTTPServer() as server:
        server.route("/hook", hook)
        rt = _runtime(
            database,
            allow_private_networks=False,
            allowed_networks="127.0.0.0/8",
            webhook_url=server.url("/hook"),
            webhook_secret="s3cret",
        )
        _import(rt, 3)
        first = relay.relay_events(rt, prune=False)
        assert (first.delivered, first.delivery_failures) == (1, 1)
        assert relay.relay_events(rt, prune=False).delivered == 0  # waiting for its back-off
        with database.transaction() as session:  # the back-off has passed
            session.execute(EventOutbox.__table__.update().values(next_delivery_at=None))
        assert relay.relay_events(rt, prune=False).delivered == 2
    stored = [e for _, e, _ in _outbox_events(database)]
    assert [json.loads(body)["id"] for _, body in received] == [e.id for e in stored]
    for headers, body in received:
        assert relay.verify("s3cret", body, headers[relay.SIGNATURE_HEADER])
        assert headers[relay.EVENT_ID_HEADER] == json.loads(body)["id"]
    assert not relay.verify("other", received[0][1], received[0][0][relay.SIGNATURE_HEADER])
    rt.fetcher.close()


def test_the_webhook_address_obeys_the_network_policy(database: Database) -> None:
    with LocalHTTPServer() as server:
        server.route("/hook", Reply(200))
        rt = _runtime(database, allow_private_networks=False, webhook_url=server.url("/hook"))
        _import(rt, 1)
        report = relay.relay_events(rt, prune=False)
        assert (report.delivered, report.delivery_failures) == (0, 1)
        assert server.hits == []  # loopback refused before connecting
    with database.reader() as session:
        error = session.scalar(select(EventOutbox.delivery_error))
    assert error is not None and "non-public" in error
    rt.fetcher.close()


def test_replaying_the_refinement_events_gives_the_refined_stories(database: Database) -> None:
    """A consumer that keeps article -> story from the events ends where the database is."""
    from tests.integration.test_story_refine import _docs, _ingest, _stored_partition

    rt = _runtime(database)
    docs, background = _docs()
    ids = _ingest(rt, docs, background)
    with database.reader() as session:
        duplicates = set(session.scalars(select(Article.id).where(Article.duplicate_of.is_not(None))))
        mark = outbox.last_seq(session)
    before = {a: s for a, s in _stored_partition(database, ids).items() if a not in duplicates}
    report = handlers.refine_stories(rt)
    assert report.articles_moved > 0
    with database.reader() as session:
        emitted = [r.event for r in outbox.read_after(session, mark, limit=10_000)]
    kinds = Counter(e.type for e in emitted)
    assert kinds["story.updated"] > 0 and set(kinds) <= {
        "story.created",
        "story.split",
        "story.updated",
        "story.merged",
    }
    assert kinds["story.created"] == report.stories_created
    assert kinds["story.merged"] == len(report.stories_merged)
    replay = dict(before)
    for e in emitted:
        d = e.data
        if e.type == "story.split":
            replay.update({a: d["new_story_id"] for a in d["article_ids"]})
        elif e.type == "story.updated":
            assert not set(d["removed_article_ids"]) & set(d["article_ids"])
            replay.update({a: d["story_id"] for a in d["article_ids"]})
        elif e.type == "story.merged":
            replay.update({a: d["into_story_id"] for a, s in replay.items() if s == d["story_id"]})
    after = {a: s for a, s in _stored_partition(database, ids).items() if a not in duplicates}
    assert replay == after != before
    rt.fetcher.close()


def test_a_slow_webhook_holds_up_neither_the_stream_nor_a_second_deliverer(
    pg: Database, redis_url: str, stream: str
) -> None:
    release = threading.Event()
    received: list[str] = []

    def slow(h: Any) -> None:
        body = h.rfile.read(int(h.headers["Content-Length"]))
        release.wait(30)
        received.append(json.loads(body)["id"])
        Reply(204)(h)

    with LocalHTTPServer() as server:
        server.route("/hook", slow)
        rt = _runtime(pg, redis_url=redis_url, events_stream=stream, webhook_url=server.url("/hook"))
        _import(rt, 3)
        first = threading.Thread(target=lambda: relay.deliver_webhook(rt))
        first.start()
        while not server.hits:  # the first deliverer is inside its first POST
            threading.Event().wait(0.05)
        assert relay.deliver_webhook(rt) == (0, 0)  # another relay skips the webhook meanwhile
        with pg.reader() as session:
            assert outbox.backlog(session).unpublished == 3
        # the stream goes on: the webhook locks no outbox row (this relay skips the webhook)
        assert relay.relay_events(rt, prune=False).published == 3
        release.set()
        first.join(30)
    assert sorted(received) == sorted(e.id for _, e, _ in _outbox_events(pg))
    rt.fetcher.close()
