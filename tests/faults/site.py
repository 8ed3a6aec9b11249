"""A local news site on 127.0.0.1 for the fault runs: feeds of article pages, copies, poison.

Every page has its own text (sentences drawn from a seeded generator, so dedupe never merges two
originals), some feeds list an article of the previous feed too (one article, two entries) and
some list a syndicated copy of another feed's article at an address of their own (same text,
another URL: stored once more, marked as a duplicate of the original). Optionally:

- a **poison page**, listed in feed 0: a 2–4 MB page of unclosed table cells, realistic malformed
  HTML with more markup than any article page (refused before extraction; were it let through,
  the extractor would run for longer than a task's time limit on a slow machine);
- a **poison feed**: answers 200 with a body that is no feed at all (an HTML error page), every
  time.
"""

from __future__ import annotations

import http.server
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from tests.support.httpserver import LocalHTTPServer, Reply

_SUBJECTS = (
    "The city council", "A regional court", "The harbour authority", "Local farmers", "The school board",
    "Hospital managers", "The transport minister", "Residents of the old quarter", "A coalition of unions",
    "The county fire service", "Researchers at the university", "The central bank", "A group of shop owners",
    "Police investigators", "The water utility", "Festival organisers", "The football club", "Museum curators",
)  # fmt: skip
_VERBS = (
    "approved", "rejected", "postponed", "announced", "criticised", "defended", "investigated", "funded",
    "questioned", "welcomed", "challenged", "published", "suspended", "extended", "reviewed", "opposed",
)  # fmt: skip
_OBJECTS = (
    "a plan to rebuild the river bridge", "new rules for night buses", "the budget for next year",
    "a proposal to close two libraries", "the expansion of the northern port", "a study of air quality",
    "the contract for waste collection", "higher fees for parking", "a new cycling route along the coast",
    "the merger of two rural districts", "a pilot scheme for free school meals", "repairs to the old dam",
    "the sale of a historic theatre", "plans for a wind farm offshore", "a ban on fireworks in the park",
)  # fmt: skip
_CODA = (
    "after a long meeting on Tuesday", "despite protests outside the building", "in a statement on Friday",
    "following months of debate", "citing rising costs", "after engineers raised concerns",
    "in a vote that surprised observers", "according to documents seen by reporters",
)  # fmt: skip


def _sentence(rng: random.Random) -> str:
    number = rng.randint(2, 9000)
    return (
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_CODA)}, "
        f"a decision affecting {number} people in {rng.choice(_PLACES)}."
    )


_PLACES = tuple(
    f"{a}{b}" for a in ("North", "South", "East", "West", "Upper", "Lower", "Old", "New") for b in
    ("field", "bridge", "haven", "ford", "wick", "ton", "moor", "stead")
)  # fmt: skip


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    original: str  # the path of the page whose text this is (itself for an original)


@dataclass
class Site:
    """The site's content; :meth:`serve` puts it on 127.0.0.1."""

    feeds: int
    pages_per_feed: int
    copies: int = 10
    overlap: int = 3  # articles of the previous feed each feed lists too
    poison_page: bool = False
    poison_feed: bool = False
    poison_rows: int = 200_000
    page_delay: float = 0.05  # seconds per page response: ingest lasts long enough to hit it
    seed: int = 14
    pages: dict[str, Page] = field(default_factory=dict)
    feed_items: dict[int, list[str]] = field(default_factory=dict)
    server: LocalHTTPServer | None = None

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        start = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
        for f in range(self.feeds):
            items: list[str] = []
            for i in range(self.pages_per_feed):
                path = f"/news/{f}/{i}-story.html"
                paras = tuple(" ".join(_sentence(rng) for _ in range(4)) for _ in range(6))
                title = f"{paras[0].split(',')[0]} ({f}-{i})"
                self.pages[path] = Page(path, title, paras, start + timedelta(minutes=7 * i + f), path)
                items.append(path)
            self.feed_items[f] = items
        originals = [p for p in self.pages.values() if p.original == p.path]
        for c in range(min(self.copies, len(originals))):
            source = originals[(c * 7919) % len(originals)]
            target_feed = (int(source.path.split("/")[2]) + 1 + c) % self.feeds
            path = f"/wire/{target_feed}/copy-{c}.html"
            copy = Page(path, source.title + " | Wire", source.paragraphs, source.published + timedelta(hours=1),
                        source.path)  # fmt: skip
            self.pages[path] = copy
            self.feed_items[target_feed].append(path)
        if self.feeds > 1:
            for f in range(self.feeds):
                previous = self.feed_items[(f - 1) % self.feeds]
                self.feed_items[f].extend(p for p in previous[: self.overlap] if p.startswith("/news/"))
        if self.poison_page:
            self.feed_items[0].append(self.POISON_PAGE)

    POISON_PAGE = "/news/poison/table.html"
    POISON_FEED = "/feeds/poison.xml"

    # ------------------------------------------------------------------ what should be stored

    def article_paths(self) -> list[str]:
        """Every page that must end up stored (poison excluded), originals and copies."""
        return sorted(self.pages)

    def groups(self) -> dict[str, list[str]]:
        """original path -> the paths carrying its text (itself first)."""
        out: dict[str, list[str]] = {}
        for page in sorted(self.pages.values(), key=lambda p: (p.original != p.path, p.path)):
            out.setdefault(page.original, []).append(page.path)
        return out

    def feed_paths(self) -> list[str]:
        paths = [f"/feeds/{f}.xml" for f in range(self.feeds)]
        return [*paths, self.POISON_FEED] if self.poison_feed else paths

    def import_line(self, path: str) -> dict[str, object]:
        page = self.pages[path]
        return {
            "url": self.url(path),
            "title": page.title,
            "text": "\n\n".join(page.paragraphs),
            "published_at": page.published.isoformat(),
        }

    # ------------------------------------------------------------------ serving

    def url(self, path: str) -> str:
        assert self.server is not None
        return self.server.url(path)

    def serve(self) -> Site:
        server = LocalHTTPServer()
        server.default = self._handle
        self.server = server.start()
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        if path == self.POISON_FEED:
            body = b"<html><body><h1>502 Bad Gateway</h1><p>upstream timed out</p></body></html>"
            Reply(200, {"Content-Type": "application/rss+xml"}, body)(h)
        elif path.startswith("/feeds/"):
            f = int(path.rsplit("/", 1)[1].split(".")[0])
            Reply(200, {"Content-Type": "application/rss+xml; charset=utf-8"}, self._feed(f))(h)
        elif path == self.POISON_PAGE and self.poison_page:
            Reply(200, {"Content-Type": "text/html; charset=utf-8"}, self._poison())(h)
        elif path in self.pages:
            time.sleep(self.page_delay)
            Reply(200, {"Content-Type": "text/html; charset=utf-8"}, self._page(self.pages[path]))(h)
        else:
            Reply(404, {"Content-Type": "text/plain"}, b"not found")(h)

    def _feed(self, f: int) -> bytes:
        items = []
        for path in self.feed_items[f]:
            page = self.pages.get(path)
            title = page.title if page else "Council tables the results of the annual survey"
            summary = page.paragraphs[0] if page else "The survey results, in full."
            published = page.published if page else datetime(2026, 12, 1, 5, tzinfo=UTC)
            items.append(
                f"<item><title>{escape(title)}</title><link>{escape(self.url(path))}</link>"
                f'<guid isPermaLink="true">{escape(self.url(path))}</guid>'
                f"<pubDate>{format_datetime(published)}</pubDate>"
                f"<description>{escape(summary)}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Local desk {f}</title><link>{escape(self.url('/'))}</link>"
            f"<description>News of district {f}</description>{''.join(items)}</channel></rss>"
        ).encode()

    def _page(self, page: Page) -> bytes:
        body = "".join(f"<p>{escape(p)}</p>" for p in page.paragraphs)
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(page.title)}</title>'
            f'<meta property="article:published_time" content="{page.published.isoformat()}"></head><body>'
            f'<header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>'
            f'<article><h1>{escape(page.title)}</h1><p class="byline">By Staff Reporter</p>{body}</article>'
            f"<footer><p>Copyright Local Desk</p></footer></body></html>"
        ).encode()

    _poison_lock = threading.Lock()
    _poison_body: bytes | None = None

    def _poison(self) -> bytes:
        with self._poison_lock:
            if self._poison_body is None:
                cells = "<tr><td>" * self.poison_rows
                self._poison_body = (
                    "<!doctype html><html><head><title>Results table</title></head><body><table>"
                    f"{cells}Final figures</table></body></html>"
                ).encode()
            return self._poison_body
