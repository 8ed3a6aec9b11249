"""No page of the development sets crashes an import or a feed entry's content.

Every page of AEB, the WCXB test split and trafilatura-eval goes (1) through ``newsworker import``'s
line parsing and normalisation as a whole page in ``html``, and (2) into an RSS item's
``content:encoded`` through feed parsing, the entry sanitiser and the feed-content path. The pages
are dealt into ``SHARDS`` tests so that the suite's workers (pytest-xdist) share them: every page
takes about 70 s on two workers of the 2-core machine. ``NEWSWORKER_DEVSET_STRIDE=N`` takes every
N-th page of each set instead, for a quicker local run.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.model.article import FeedHints
from worker.model.feed import ParsedEntry
from worker.normalise.fallback import feed_only
from worker.normalise.sanitize import sanitize_html
from worker.poll.feeds import FeedParseError, parse_feed
from worker.service.imports import normalise_item, parse_import_line

STRIDE = int(os.environ.get("NEWSWORKER_DEVSET_STRIDE", "1"))
SHARDS = 8


def _pages(root: Path) -> Iterator[tuple[str, str, bytes]]:
    base = root / "extraction"
    aeb = json.loads((base / "aeb" / "ground-truth.json").read_text("utf-8"))
    for page_id in sorted(aeb)[::STRIDE]:
        yield f"aeb/{page_id}", aeb[page_id]["url"], (base / "aeb" / "html" / f"{page_id}.html.gz").read_bytes()
    for path in sorted((base / "wcxb-test" / "ground-truth").glob("*.json"))[::STRIDE]:
        url = json.loads(path.read_text("utf-8")).get("url") or f"https://wcxb.example/{path.stem}"
        yield f"wcxb/{path.stem}", url, (base / "wcxb-test" / "html" / f"{path.stem}.html.gz").read_bytes()
    evaldata = json.loads((base / "trafilatura-eval" / "evaldata.json").read_text("utf-8"))
    for url in sorted(evaldata)[::STRIDE]:
        name = evaldata[url]["file"]
        address = url if url.startswith(("http://", "https://")) else f"https://teval.example/{name}"
        yield f"teval/{name}", address, (base / "trafilatura-eval" / "html" / name).read_bytes()


def _rss(url: str, html: str) -> bytes:
    cdata = html.replace("]]>", "]]]]><![CDATA[>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Dev set</title>'
        f"<item><title>A page</title><link>{_xml_escape(url)}</link><guid>{_xml_escape(url)}</guid>"
        f"<content:encoded><![CDATA[{cdata}]]></content:encoded></item></channel></rss>"
    ).encode("utf-8", "replace")


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.mark.timeout(900)  # all 1,682 pages took 767 s in one process on a heavily shared machine
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_dev_set_page_imports_and_feeds_without_an_exception(shared_data: Path, shard: int) -> None:
    if not (shared_data / "extraction" / "trafilatura-eval").is_dir():
        pytest.skip("extraction development sets not available")
    pages = imported = refused_feeds = 0
    for index, (name, url, gz) in enumerate(_pages(shared_data)):
        if index % SHARDS != shard:
            continue
        html = gzip.decompress(gz).decode("utf-8", "replace")
        pages += 1
        # (1) import: a whole page in "html"
        item = parse_import_line(json.dumps({"url": url, "html": html, "title": None}))
        article = normalise_item(item)
        assert article.page_kind, name
        imported += bool(article.text)
        # (2) the same page as a feed entry's content:encoded
        try:
            feed = parse_feed(_rss(url, html), url="https://feeds.example/rss")
        except FeedParseError:
            refused_feeds += 1  # reported to the user as a failed poll, not a crash
            continue
        for entry in feed.entries:
            content = sanitize_html(entry.content_html, entry.link or url) if entry.content_html else None
            outcome = feed_only(entry.link or url, entry.title, content, _hints(entry), "not fetched in this test")
            assert outcome.article.source == "feed", name
    assert pages > 500 // STRIDE // SHARDS
    assert imported >= 0.9 * pages, (imported, pages)
    assert refused_feeds <= 0.02 * pages, (refused_feeds, pages)


def _hints(entry: ParsedEntry) -> FeedHints:
    return FeedHints(
        title=entry.title, authors=entry.authors, published_at=entry.published_at, content_html=entry.content_html
    )
