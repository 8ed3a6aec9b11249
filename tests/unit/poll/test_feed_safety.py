"""The entity-bomb gate looks at the document in its own encoding, and plain GUID-less feeds are not "broken"."""

from __future__ import annotations

import pytest

from worker.poll.feeds import FeedParseError, check_xml_safety, parse_feed

BOMB = (
    '<?xml version="1.0"{decl}?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    '<rss version="2.0"><channel><title>&b;</title></channel></rss>'
)
FEED = (
    '<?xml version="1.0"{decl}?><rss version="2.0"><channel><title>Caf\u00e9</title>'
    "<item><title>A</title><link>https://ex.com/a</link><guid>a</guid></item></channel></rss>"
)


def _encode(template: str, codec: str, declare: bool) -> bytes:
    return template.format(decl=f' encoding="{codec}"' if declare else "").encode(codec)


ENCODINGS = [
    ("utf-8", True), ("utf-8", False), ("utf-16", True), ("utf-16", False), ("utf-16-le", True),
    ("utf-16-be", True), ("utf-32", True), ("utf-32", False), ("cp037", True), ("windows-1252", True),
]  # fmt: skip


@pytest.mark.parametrize(("codec", "declare"), ENCODINGS)
def test_entity_declarations_are_found_in_any_encoding(codec: str, declare: bool) -> None:
    with pytest.raises(FeedParseError, match="entity bomb"):
        check_xml_safety(_encode(BOMB, codec, declare))


def test_utf7_disguised_declarations_are_found() -> None:
    body = BOMB.format(decl=' encoding="utf-7"').encode("utf-7").replace(b"<!", b"+ADwAIQ-")
    assert b"<!ENTITY" not in body
    with pytest.raises(FeedParseError, match="entity bomb"):
        check_xml_safety(body)


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "windows-1252"])
def test_harmless_feeds_in_those_encodings_still_parse(codec: str) -> None:
    feed = parse_feed(_encode(FEED, codec, True), url="https://ex.com/rss")
    assert feed.title == "Caf\u00e9" and [e.entry_key for e in feed.entries] == ["guid:a"]


def test_feed_without_any_guid_uses_links_without_a_warning() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>A</title><link>https://ex.com/a</link></item>"
        b"<item><title>B</title><link>https://ex.com/b</link></item></channel></rss>"
    )
    feed = parse_feed(body, url="https://ex.com/rss")
    assert feed.guid_mode == "link" and feed.warnings == ()
    assert [e.entry_key for e in feed.entries] == ["url:ex.com/a", "url:ex.com/b"]


def test_a_whole_page_in_an_items_content_is_not_taken_for_the_documents_doctype() -> None:
    page = "<!DOCTYPE html><html><head><title>P</title></head><body><p>Story text.</p></body></html>"
    feed = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>F</title><item><title>A</title><link>https://ex.com/a</link><guid>a</guid>"
        f"<content:encoded><![CDATA[{page}]]></content:encoded></item></channel></rss>"
    ).encode()
    entry = parse_feed(feed, url="https://ex.com/rss").entries[0]
    assert "Story text." in (entry.content_html or "")
    with pytest.raises(FeedParseError, match="HTML page"):
        check_xml_safety(page.encode())  # an HTML page served as the feed itself is still refused
    with pytest.raises(FeedParseError, match="entit"):
        check_xml_safety(feed.replace(b"Story text.", b'<!ENTITY a "x">'))
