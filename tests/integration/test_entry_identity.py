"""Entry identity and encodings through ``poll_feed`` on real SQLite and PostgreSQL.

An entry seen before is never ingested again as new: not when its link changes
only by scheme, tracking parameters or host case, not when its GUID changes at
every poll, not when it drops off the feed and comes back, and not when a feed
switches between GUID and link identity. Whatever the charset, text is stored
as clean UTF-8.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError

from storage import repo
from storage.db import Database
from storage.models import Article, Entry
from tests.support.feedpoll import Item, Sequenced, add_feed, entries, feed, feed_reply, fetch_log, polling_runtime, rss
from tests.support.httpserver import LocalHTTPServer, Reply
from worker.model.clock import utcnow
from worker.service import handlers
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        srv.default = Reply(404, {}, b"no page")  # article pages: fall back to the feed's content
        yield srv


@pytest.fixture
def runtime(database: Database) -> Iterator[tuple[Runtime, LocalDispatcher]]:
    with polling_runtime(database) as pair:
        yield pair


def _poll_versions(rt: Runtime, server: LocalHTTPServer, versions: list[bytes | str]) -> tuple[int, list[int]]:
    """Serve each document in turn and poll once per document; returns (feed id, new entries per poll)."""
    server.route("/feed.xml", Sequenced(*[feed_reply(v) for v in versions]))
    feed_id = add_feed(rt, server.url("/feed.xml"))
    counts = []
    for _ in versions:
        record = handlers.poll_feed(rt, feed_id)
        assert record is not None and record.outcome == "ok", fetch_log(rt, feed_id)[-1].error
        counts.append(len(record.new_entry_ids))
    return feed_id, counts


IDENTITY_CASES = {
    "link changes by scheme, tracking parameters, host case and www (no GUIDs)": [
        rss([Item(None, "http://News.Example/a?utm_source=rss&id=7", "A"), Item(None, "http://news.example/b", "B")]),
        rss([Item(None, "https://news.example/a?id=7&fbclid=xyz", "A"), Item(None, "https://NEWS.example/b/", "B")]),
        rss([Item(None, "https://www.news.example/a?id=7", "A"), Item(None, "http://news.example/b#top", "B")]),
    ],
    "GUID changes at every poll while the link stays": [
        rss([Item(f"{n}-poll1", f"https://news.example/{n}", n) for n in "abc"]),
        rss([Item(f"{n}-poll2", f"https://news.example/{n}", n) for n in "abc"]),
        rss([Item(f"{n}-poll3", f"https://news.example/{n}?utm_medium=feed", n) for n in "abc"]),
    ],
    "GUID stays while the link moves to https with tracking": [
        rss([Item("g1", "http://news.example/a", "A")]),
        rss([Item("g1", "https://news.example/a?utm_campaign=x", "A")]),
    ],
    "entry drops off and reappears (no GUIDs)": [
        rss([Item(None, "https://news.example/a", "A"), Item(None, "https://news.example/b", "B")]),
        rss([Item(None, "https://news.example/b", "B")]),
        rss([Item(None, "https://news.example/a", "A"), Item(None, "https://news.example/b", "B")]),
    ],
    "entry drops off and reappears with another GUID": [
        rss([Item("a1", "https://news.example/a", "A"), Item("b1", "https://news.example/b", "B")]),
        rss([Item("b1", "https://news.example/b", "B")]),
        rss([Item("a2", "https://news.example/a", "A"), Item("b1", "https://news.example/b", "B")]),
    ],
}


@pytest.mark.parametrize("name", list(IDENTITY_CASES))
def test_an_entry_seen_before_is_not_new(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer, name: str
) -> None:
    rt, dispatcher = runtime
    versions: list[bytes | str] = list(IDENTITY_CASES[name])
    feed_id, counts = _poll_versions(rt, server, versions)
    first = len(entries(rt, feed_id))
    assert counts == [first] + [0] * (len(versions) - 1)
    dispatcher.drain(rt)
    with rt.db.reader() as session:
        assert len(session.scalars(select(Article.id)).all()) == first


def test_feed_with_broken_guids_uses_link_identity(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, _ = runtime
    now = utcnow()
    good = [Item(f"id-{n}", f"https://news.example/{n}", f"Story {n}", now - timedelta(hours=n)) for n in range(20)]
    # 2 of 20 (10%) share a GUID: GUIDs are not trusted, every entry is identified by its link.
    broken = [
        *good[:18],
        Item("id-0", "https://news.example/18", "Story 18"),
        Item("id-0", "https://news.example/19", "Story 19"),
    ]
    feed_id, counts = _poll_versions(rt, server, [rss(broken), rss(good), rss(broken)])
    assert counts == [20, 0, 0]  # none lost to the duplicated GUID, none new when GUIDs are fixed
    stored = entries(rt, feed_id)
    assert len(stored) == 20 and all(e.entry_key.startswith("url:") for e in stored)
    warnings = [log.warning for log in fetch_log(rt, feed_id)]
    assert warnings[0] and "GUIDs" in warnings[0] and warnings[1] is None


def test_feed_turning_healthy_then_broken_keeps_its_entries(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, _ = runtime
    healthy = [Item(f"id-{n}", f"https://news.example/{n}", f"S{n}") for n in range(10)]
    empty_guids = [Item("", f"https://news.example/{n}", f"S{n}") for n in range(10)]
    feed_id, counts = _poll_versions(rt, server, [rss(healthy), rss(empty_guids), rss(healthy)])
    assert counts == [10, 0, 0]
    assert all(e.entry_key.startswith("guid:") for e in entries(rt, feed_id))


TITLE = "\u201cSmart\u201d quotes \u2014 caf\u00e9 \u20ac5, na\u00efve r\u00e9sum\u00e9"
LATIN1_TITLE = "Caf\u00e9 cr\u00e8me, \u00bd prix, na\u00efve \u00a7 r\u00e9sum\u00e9"

ENCODING_CASES = {
    "windows-1252, no declaration": (
        rss([Item("e", "https://news.example/e", TITLE, html=f"<p>{TITLE}</p>")]),
        "cp1252",
        TITLE,
    ),
    "windows-1252 declared as UTF-8": (
        rss([Item("e", "https://news.example/e", TITLE, html=f"<p>{TITLE}</p>")], encoding="utf-8"),
        "cp1252",
        TITLE,
    ),
    "windows-1252 declared as ISO-8859-1": (
        rss([Item("e", "https://news.example/e", TITLE, html=f"<p>{TITLE}</p>")], encoding="iso-8859-1"),
        "cp1252",
        TITLE,
    ),
    "ISO-8859-1, no declaration": (
        rss([Item("e", "https://news.example/e", LATIN1_TITLE, html=f"<p>{LATIN1_TITLE}</p>")]),
        "latin-1",
        LATIN1_TITLE,
    ),
    "UTF-8 declared as ISO-8859-1": (
        rss([Item("e", "https://news.example/e", TITLE, html=f"<p>{TITLE}</p>")], encoding="iso-8859-1"),
        "utf-8",
        TITLE,
    ),
    "UTF-16 with BOM": (
        rss([Item("e", "https://news.example/e", TITLE, html=f"<p>{TITLE}</p>")], encoding="utf-16"),
        "utf-16",
        TITLE,
    ),
}


def _clean_text(value: str) -> bool:
    return "\ufffd" not in value and not any(unicodedata.category(c) == "Cc" for c in value)


@pytest.mark.parametrize("name", list(ENCODING_CASES))
def test_any_charset_is_stored_as_clean_utf8(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer, name: str
) -> None:
    rt, _ = runtime
    document, codec, expected = ENCODING_CASES[name]
    server.route("/feed.xml", Reply(200, {"Content-Type": "text/xml"}, document.encode(codec)))
    feed_id = add_feed(rt, server.url("/feed.xml"))
    record = handlers.poll_feed(rt, feed_id)
    assert record is not None and record.outcome == "ok"
    (entry,) = entries(rt, feed_id)
    assert entry.title == expected
    assert entry.content_html == f"<p>{expected}</p>"
    assert _clean_text(entry.title) and _clean_text(entry.content_html)


def test_control_characters_never_reach_the_database(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, _ = runtime
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Fe\x00ed\x07</title>'
        b"<item><title>A\x00B&#0;C\x1b</title><link>https://news.example/a</link><guid>g\x00h</guid>"
        b"<author>bob\x00@news.example</author><description>x\x00y &lt;b&gt;z&lt;/b&gt;</description></item>"
        b"</channel></rss>"
    )
    server.route("/feed.xml", feed_reply(body))
    feed_id = add_feed(rt, server.url("/feed.xml"))
    record = handlers.poll_feed(rt, feed_id)
    assert record is not None and record.outcome == "ok"  # PostgreSQL would refuse a NUL
    (entry,) = entries(rt, feed_id)
    assert (entry.title, entry.guid, entry.content_html) == ("ABC", "gh", "xy <b>z</b>")
    assert feed(rt, feed_id).title == "Feed"
    (log,) = fetch_log(rt, feed_id)
    assert log.malformed and log.warning and "malformed" in log.warning


def test_malformed_but_usable_feed_is_ingested_with_the_warning_logged(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, dispatcher = runtime
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Loose & wild</title>'
        b"<item><title>Fish & chips</title><link>https://news.example/fish</link><guid>f</guid>"
        b"<description>Unescaped & ampersand <br> and an unclosed tag</description></item>"
        b"<item><title>Second</title><link>https://news.example/second</link><guid>s</guid></item>"
        b"</channel></rss>"
    )
    server.route("/feed.xml", feed_reply(body))
    feed_id = add_feed(rt, server.url("/feed.xml"))
    record = handlers.poll_feed(rt, feed_id)
    assert record is not None and record.outcome == "ok" and len(record.new_entry_ids) == 2
    (log,) = fetch_log(rt, feed_id)
    assert log.outcome == "ok" and log.malformed and log.warning and log.warning.startswith("malformed feed")
    assert log.new_entries == 2
    dispatcher.drain(rt)
    with rt.db.reader() as session:
        titles = sorted(t or "" for t in session.scalars(select(Article.title)))
        states = set(session.scalars(select(Entry.state)))
    assert titles == ["Fish & chips", "Second"] and states == {"ingested"}


def test_a_feed_the_database_refuses_backs_off_visibly(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, _ = runtime
    long_link = "https://news.example/" + "x" * 3000
    server.route(
        "/feed.xml", feed_reply(rss([Item("long", long_link, "Long"), Item("ok", "https://news.example/ok", "OK")]))
    )
    feed_id = add_feed(rt, server.url("/feed.xml"))
    record = handlers.poll_feed(rt, feed_id)
    assert record is not None and record.outcome == "ok"  # an over-long link is dropped, not fatal
    assert sorted((e.guid, e.url is None) for e in entries(rt, feed_id)) == [("long", True), ("ok", False)]

    def refuse(*args: object, **kwargs: object) -> None:
        raise DataError("INSERT ...", {}, ValueError("value the database refuses"))

    monkeypatch.setattr(repo, "_record_entries", refuse)
    record = handlers.poll_feed(rt, feed_id)
    assert record is not None and record.outcome == "store_error"
    stored = feed(rt, feed_id)
    assert stored.consecutive_errors == 1 and stored.poll_token is None
    assert stored.last_error and "value the database refuses" in stored.last_error
    assert (stored.next_poll_at - stored.last_polled_at).total_seconds() >= 270  # type: ignore[operator]
    assert [log.outcome for log in fetch_log(rt, feed_id)] == ["ok", "store_error"]
