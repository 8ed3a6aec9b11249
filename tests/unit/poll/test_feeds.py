from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from worker.poll.feeds import FeedParseError, parse_feed

REPO = Path(__file__).resolve().parents[3]

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"


def _parse(name: str, url: str = "https://example.org/feed") -> object:
    return parse_feed((DATA / name).read_bytes(), url=url)


def test_rss2_entries_with_identity_dates_and_tracking_free_links() -> None:
    feed = parse_feed((DATA / "rss2.xml").read_bytes(), url="https://en.minanews.net/feed")
    assert feed.title == "MINA World"
    assert feed.ttl_minutes == 30
    first = feed.entries[0]
    assert first.entry_key == "guid:https://en.minanews.net/?p=23871"
    assert first.link == "https://en.minanews.net/bashar-assad-said-to-refuse-iran-asylum-offer/"
    assert first.published_at == datetime(2016, 4, 24, 2, 12, tzinfo=UTC)
    assert first.authors == ("MINA Editor",)
    assert "asylum" in (first.content_html or "")


def test_atom_relative_links_resolve_against_the_document_address() -> None:
    feed = parse_feed((DATA / "atom.xml").read_bytes(), url="https://wire.example.org/atom.xml")
    assert [e.link for e in feed.entries] == [
        "https://wire.example.org/2016/04/24/iran-assad-asylum",
        "https://wire.example.org/2016/04/24/second",
    ]
    assert feed.entries[0].published_at == datetime(2016, 4, 24, 6, 30, tzinfo=UTC)
    assert feed.entries[0].authors == ("Jane Reporter",)


def test_rss1_with_a_malformed_date_keeps_the_entry_without_a_date() -> None:
    feed = parse_feed((DATA / "rss1.rdf").read_bytes(), url="https://rdf.example.net/rss")
    assert [e.title for e in feed.entries] == ["First RDF story", "Second RDF story"]
    assert feed.entries[0].published_at == datetime(2016, 4, 24, 7, tzinfo=UTC)
    assert feed.entries[1].published_at is None


def _rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_link_identity_ignores_scheme_tracking_and_host_case() -> None:
    items = "".join(
        f"<item><title>a</title><link>{escape(link)}</link></item>"
        for link in ["http://News.Example.com/a?utm_source=x", "https://news.example.com/a"]
    )
    feed = parse_feed(_rss(items), url="https://news.example.com/rss")
    # No GUIDs at all: identity falls back to the link, and both spellings are one entry.
    assert len(feed.entries) == 1
    assert feed.entries[0].entry_key == "url:news.example.com/a"


def test_broken_guids_degrade_to_link_identity() -> None:
    items = "".join(
        f"<item><title>t{i}</title><guid>same</guid><link>https://ex.com/{i}</link></item>" for i in range(10)
    )
    feed = parse_feed(_rss(items), url="https://ex.com/rss")
    assert feed.guid_mode == "link"
    assert len(feed.entries) == 10
    assert {e.entry_key for e in feed.entries} == {f"url:ex.com/{i}" for i in range(10)}
    assert any("GUID" in w for w in feed.warnings)


def test_entries_without_guid_or_link_get_a_stable_hash_key() -> None:
    items = "<item><title>No link</title><pubDate>Sun, 24 Apr 2016 09:12:00 GMT</pubDate></item>"
    first = parse_feed(_rss(items), url="https://ex.com/rss").entries[0]
    again = parse_feed(_rss(items), url="https://ex.com/rss").entries[0]
    assert first.entry_key.startswith("hash:")
    assert first.entry_key == again.entry_key


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<rss version="2.0"><channel><title>&lol2;</title></channel></rss>"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BILLION_LAUGHS, "entit"),
        (b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "x" [ <!ATTLIST a b CDATA "c"> ]><rss/>', "internal subset"),
        (b"<!DOCTYPE html><html><body>Hello</body></html>", "HTML page"),
        (b"", "empty"),
        (b"\x00\x01binary garbage", "not an RSS or Atom feed"),
    ],
)
def test_dangerous_or_non_feed_documents_are_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, url="https://ex.com/rss")


def test_malformed_feed_that_still_yields_entries_is_kept_with_a_warning() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>A & B</title><link>https://ex.com/1</link></item></channel></rss>'
    feed = parse_feed(body, url="https://ex.com/rss")
    assert len(feed.entries) == 1
    assert feed.warnings and feed.warnings[0].startswith("malformed feed")


def test_undeclared_latin1_feed_becomes_clean_text() -> None:
    body = '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>Caf\u00e9</title><item><title>Cr\u00e8me br\u00fbl\u00e9e</title><link>https://ex.com/1</link></item></channel></rss>'.encode(
        "latin-1"
    )
    feed = parse_feed(body, url="https://ex.com/rss")
    assert feed.title == "Caf\u00e9"
    assert feed.entries[0].title == "Cr\u00e8me br\u00fbl\u00e9e"


def test_an_installed_chardet_does_not_change_how_a_feed_is_decoded(tmp_path: Path) -> None:
    """feedparser consults chardet when it is importable; a feed must decode the same either way."""
    fake = tmp_path / "chardet"
    fake.mkdir()
    # what chardet really answers for short Latin-1 text with accents: a Central European codec
    (fake / "__init__.py").write_text("def detect(data):\n    return {'encoding': 'iso-8859-2'}\n")
    body = '<rss version="2.0"><channel><item><title>Caf\u00e9 cr\u00e8me, na\u00efve</title></item></channel></rss>'
    script = (
        "import sys; from worker.poll.feeds import parse_feed; "
        f"print(parse_feed({body.encode('latin-1')!r}, url='https://ex.com/rss').entries[0].title.encode().hex())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert bytes.fromhex(out.stdout.strip()).decode() == "Caf\u00e9 cr\u00e8me, na\u00efve"


def test_seed_article_as_a_feed_item(shared_data: Path) -> None:
    seed = (shared_data / "seed-article.txt").read_text(encoding="utf-8")
    title, body = seed.split("\n", 1)
    paragraphs = "".join(f"<p>{escape(p.strip())}</p>" for p in body.split("\n\n") if p.strip())
    item = (
        f"<item><title>{escape(title)}</title><link>https://en.minanews.net/assad-asylum/?utm_medium=rss</link>"
        f"<guid isPermaLink='false'>mina-23871</guid><pubDate>Sun, 24 Apr 2016 09:12:00 +0700</pubDate>"
        f"<content:encoded><![CDATA[{paragraphs}]]></content:encoded></item>"
    )
    rss = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>MINA</title>'
        f"{item}</channel></rss>"
    ).encode()
    entry = parse_feed(rss, url="https://en.minanews.net/feed").entries[0]
    assert entry.title == "Bashar Assad Said to Refuse Iran Asylum Offer"
    assert entry.entry_key == "guid:mina-23871"
    assert entry.link == "https://en.minanews.net/assad-asylum/"
    assert "Mahmoud Alavi" in (entry.content_html or "")
    assert entry.published_at == datetime(2016, 4, 24, 2, 12, tzinfo=UTC)
