"""Hostile feeds through the real poll path: entity bombs are refused fast, XSS never reaches stored HTML.

Figures (bomb rejection times) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import Article, Entry
from tests.support.feedpoll import add_feed, entries, feed, feed_reply, fetch_log, polling_runtime
from tests.support.httpserver import LocalHTTPServer, Reply
from worker.normalise.sanitize import sanitize_html
from worker.service import handlers
from worker.service.messages import LocalDispatcher
from worker.service.runtime import Runtime

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "security" / "xss-corpus.txt"
PAYLOADS = [
    line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")
] + ['<a href="java\nscript:alert(1)">raw newline</a>', '<a href="java\tscript:alert(1)">raw tab</a>']

_ACTIVE_TAGS = {
    "script", "style", "iframe", "frame", "object", "embed", "form", "input", "button", "svg", "math",
    "base", "meta", "link", "noscript", "template", "audio", "video", "source", "details", "marquee",
}  # fmt: skip
_BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "formaction", "action", "srcdoc"):
                self.problems.append(f"{tag}@{name}")
            # What a browser's URL parser does: drop tabs/newlines anywhere, C0 and spaces at the ends.
            squeezed = re.sub(r"[\t\n\r]", "", html.unescape(value or "")).strip(_C0_AND_SPACE).lower()
            if squeezed.startswith(_BAD_SCHEMES):
                self.problems.append(f"{tag}@{name}={value!r}")


def assert_clean(stored: str, origin: str) -> None:
    lowered = stored.lower()
    assert "javascript:" not in lowered, (origin, stored)
    assert not _HANDLER.search(stored), (origin, stored)
    inspector = _Inspector()
    inspector.feed(stored)
    inspector.close()
    assert inspector.problems == [], (origin, stored, inspector.problems)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sanitizer_neutralises_the_corpus(payload: str) -> None:
    assert_clean(sanitize_html(payload, "https://site.example/a/"), payload)
    assert_clean(sanitize_html(f"<div><p>before</p>{payload}<p>after</p></div>", None), payload)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def runtime(database: Database) -> Iterator[tuple[Runtime, LocalDispatcher]]:
    with polling_runtime(database) as pair:
        yield pair


def _xss_feed(server: LocalHTTPServer) -> bytes:
    items = []
    for n, payload in enumerate(PAYLOADS):
        body = f"<p>Story {n} has enough words to be kept as an article body.</p>{payload}<p>The end of story {n}.</p>"
        items.append(
            f"<item><title>Story {n}</title><link>{server.url(f'/article/{n}')}</link>"
            f'<guid isPermaLink="false">xss-{n}</guid>'
            f"<description>{html.escape(body)}</description>"
            f"<content:encoded><![CDATA[{body.replace(']]>', ']]]]><![CDATA[>')}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Hostile</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def _article_page(n: int, payload: str) -> Reply:
    text = " ".join(f"Sentence {i} of the article number {n} tells the reader something new." for i in range(40))
    page = (
        f"<!DOCTYPE html><html><head><title>Story {n}</title><script>alert(1)</script>"
        '<meta property="og:type" content="article"><meta name="author" content="Ann Writer">'
        '<meta property="article:published_time" content="2024-05-06T10:00:00Z"></head>'
        f"<body onload=alert(1)><article><h1>Story {n}</h1><p>{text}</p>{payload}<p>{text}</p></article></body></html>"
    )
    return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, page.encode())


def test_xss_corpus_through_a_polled_feed_leaves_stored_html_clean(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer
) -> None:
    rt, dispatcher = runtime
    server.route("/hostile.xml", feed_reply(_xss_feed(server)))
    for n, payload in enumerate(PAYLOADS):
        # Even articles have a hostile page too; odd ones fall back to the feed's (hostile) content.
        server.route(f"/article/{n}", _article_page(n, payload) if n % 2 == 0 else Reply(404, {}, b"gone"))
    feed_id = add_feed(rt, server.url("/hostile.xml"))
    record = handlers.poll_feed(rt, feed_id)
    assert record is not None and len(record.new_entry_ids) == len(PAYLOADS)
    stored_entries = entries(rt, feed_id)
    assert len(stored_entries) == len(PAYLOADS)
    for entry in stored_entries:
        assert entry.content_html, entry.guid
        assert_clean(entry.content_html, f"entry {entry.guid}")
        assert f"Story {entry.guid.removeprefix('xss-')} has enough words" in entry.content_html  # type: ignore[union-attr]
    dispatcher.drain(rt)
    with rt.db.reader() as session:
        articles = session.scalars(select(Article)).all()
        states = set(session.scalars(select(Entry.state)))
    assert states == {"ingested"} and len(articles) == len(PAYLOADS)
    # Both stored versions were exercised: extracted hostile pages and the feed's hostile content.
    assert {a.content_source for a in articles} == {"page", "failed"}
    for article in articles:
        assert_clean(article.html or "", f"article {article.url}")
    kept = next(e for e in stored_entries if "good link" in (e.content_html or ""))
    assert 'href="https://ok.example/page"' in (kept.content_html or "")  # safe links survive


def _billion_laughs() -> str:
    levels = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?><!DOCTYPE rss [' + "".join(levels) + "]>"
        '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
        "<link>https://site.example/a</link></item></channel></rss>"
    )


def _quadratic_blowup() -> str:
    blob = "x" * 50_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{blob}">]><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{'&a;' * 20_000}</title><link>https://site.example/a</link></item></channel></rss>"
    )


BOMBS = {
    "billion laughs": _billion_laughs().encode(),
    "quadratic blow-up": _quadratic_blowup().encode(),
    "billion laughs in UTF-16": _billion_laughs().replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode("utf-16"),
    "quadratic blow-up in UTF-7 disguise": _quadratic_blowup()
    .replace('"1.0"?>', '"1.0" encoding="utf-7"?>')
    .encode("utf-7")
    .replace(b"<!", b"+ADwAIQ-"),
    "external entity (XXE)": (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&x;</title></channel></rss>'
    ),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_entity_bombs_are_refused_within_a_second(
    runtime: tuple[Runtime, LocalDispatcher], server: LocalHTTPServer, name: str
) -> None:
    rt, _ = runtime
    body = BOMBS[name]
    server.route("/bomb.xml", feed_reply(body))
    feed_id = add_feed(rt, server.url("/bomb.xml"))
    started = time.perf_counter()
    record = handlers.poll_feed(rt, feed_id)
    elapsed = time.perf_counter() - started
    print(f"\n{name}: {len(body) / 1024:.0f} KiB feed refused in {elapsed * 1000:.1f} ms (poll, parse check, DB write)")
    assert record is not None and record.outcome == "parse_error"
    assert elapsed < 1.0  # the hard cut-off
    (log,) = fetch_log(rt, feed_id)
    assert log.outcome == "parse_error" and "entity bomb" in (log.error or "")
    assert entries(rt, feed_id) == []
    stored = feed(rt, feed_id)
    assert stored.consecutive_errors == 1 and stored.status == "ok"  # a failure like any other: retried
