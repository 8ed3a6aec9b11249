"""Helpers for tests that poll feeds through ``handlers.poll_feed`` on a real database and HTTP server."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select, update

from storage import repo
from storage.db import Database
from storage.models import Entry, Feed, FetchLog
from tests.support.httpserver import Reply
from worker.model.clock import utcnow
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime
from worker.settings import load_settings


@dataclass(frozen=True)
class Item:
    guid: str | None
    link: str | None
    title: str
    published: datetime | None = None
    html: str | None = None


def rss(items: Sequence[Item], *, ttl: int | None = None, title: str = "Feed", encoding: str | None = None) -> str:
    """An RSS 2.0 document as text (encode it as the test needs)."""
    parts = []
    for item in items:
        fields = [f"<title>{escape(item.title)}</title>"]
        if item.link is not None:
            fields.append(f"<link>{escape(item.link)}</link>")
        if item.guid is not None:
            fields.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.published is not None:
            fields.append(f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>")
        if item.html is not None:
            fields.append(f"<description>{escape(item.html)}</description>")
        parts.append("<item>" + "".join(fields) + "</item>")
    decl = f' encoding="{encoding}"' if encoding else ""
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl is not None else ""
    return (
        f'<?xml version="1.0"{decl}?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>https://site.example/</link>{ttl_tag}{''.join(parts)}</channel></rss>"
    )


def feed_reply(body: str | bytes, status: int = 200, **headers: str) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    merged = {"Content-Type": "application/rss+xml"}
    merged.update({k.replace("_", "-"): v for k, v in headers.items()})
    return Reply(status, merged, data)


class Sequenced:
    """A route answering with each reply in turn; the last one repeats."""

    def __init__(self, *replies: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.replies = list(replies)
        self.calls = 0

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        reply(handler)


@contextmanager
def polling_runtime(database: Database, **settings: Any) -> Iterator[tuple[Runtime, LocalDispatcher]]:
    """A runtime on ``database`` (private networks allowed: the server is on 127.0.0.1)."""
    dispatcher = LocalDispatcher()
    values: dict[str, Any] = {"allow_private_networks": True, "database_url": database.url}
    values.update(settings)
    rt = Runtime.build(load_settings(**values), dispatcher)
    rt.db.dispose()
    rt.db = database
    rt.rng = random.Random(20261129)
    try:
        yield rt, dispatcher
    finally:
        rt.fetcher.close()


def add_feed(rt: Runtime, url: str, **columns: Any) -> int:
    with rt.db.transaction() as session:
        feed, _ = repo.add_feed(session, url)
        for name, value in columns.items():
            setattr(feed, name, value)
        return feed.id


def set_feed(rt: Runtime, feed_id: int, **columns: Any) -> None:
    with rt.db.transaction() as session:
        session.execute(update(Feed).where(Feed.id == feed_id).values(**columns))


def make_due(rt: Runtime, feed_id: int) -> None:
    set_feed(rt, feed_id, next_poll_at=utcnow())


def feed(rt: Runtime, feed_id: int) -> Feed:
    with rt.db.reader() as session:
        row = session.get(Feed, feed_id)
        assert row is not None
        return row


def delay_seconds(row: Feed) -> float:
    """The delay the scheduler chose (``next_poll_at`` and ``last_polled_at`` share one ``now``)."""
    assert row.last_polled_at is not None
    return (row.next_poll_at - row.last_polled_at).total_seconds()


def fetch_log(rt: Runtime, feed_id: int) -> list[FetchLog]:
    with rt.db.reader() as session:
        return list(session.scalars(select(FetchLog).where(FetchLog.feed_id == feed_id).order_by(FetchLog.id)))


def entries(rt: Runtime, feed_id: int) -> list[Entry]:
    with rt.db.reader() as session:
        return list(session.scalars(select(Entry).where(Entry.feed_id == feed_id).order_by(Entry.id)))
