"""Settings, URLs, import lines and feed lists: the small contracts everything relies on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.model.urls import InvalidURL, canonical_url, identity_url
from worker.poll.opml import parse_feed_list, render_opml
from worker.service.imports import ImportLineError, parse_import_line
from worker.settings import SettingsError, load_settings


def test_settings_defaults_are_embedded_and_safe() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///newsworker.db"
    assert settings.broker_url is None and settings.embedded
    assert settings.allow_private_networks is False


def test_settings_read_environment_and_mask_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWORKER_DATABASE_URL", "postgresql://app:s3cret@db:5432/news")
    monkeypatch.setenv("NEWSWORKER_BROKER_URL", "redis://:hunter2@redis:6379/0")
    monkeypatch.setenv("NEWSWORKER_ALLOW_PRIVATE_NETWORKS", "true")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://app:s3cret@db:5432/news"
    assert settings.allow_private_networks is True
    masked = settings.masked()
    assert "s3cret" not in masked["database_url"] and "hunter2" not in masked["broker_url"]
    assert masked["database_url"] == "postgresql+psycopg://app:***@db:5432/news"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSWORKER_DATABASE_URL", "mysql://x", "NEWSWORKER_DATABASE_URL"),
        ("NEWSWORKER_BROKER_URL", "amqp://guest@localhost//", "NEWSWORKER_BROKER_URL"),
        ("NEWSWORKER_MAX_BODY_BYTES", "-5", "NEWSWORKER_MAX_BODY_BYTES"),
        ("NEWSWORKER_ALLOW_PRIVATE_NETWORKS", "perhaps", "NEWSWORKER_ALLOW_PRIVATE_NETWORKS"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM:80/a/./b/../c?utm_source=x&b=2&a=1#top", "http://example.com/a/c?a=1&b=2"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/p?fbclid=1&gclid=2&id=7", "https://example.com/p?id=7"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
    ],
)
def test_canonical_url(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_identity_url_forgets_scheme_www_and_trailing_slash() -> None:
    assert identity_url("http://www.example.com/a/") == identity_url("https://example.com/a?utm_medium=rss")


@pytest.mark.parametrize("bad", ["file:///etc/passwd", "javascript:alert(1)", "ftp://x/y", "http://", "not a url"])
def test_non_http_addresses_are_invalid(bad: str) -> None:
    with pytest.raises(InvalidURL):
        canonical_url(bad)


def test_import_line_parsing() -> None:
    item = parse_import_line(
        '{"url": "https://ex.com/a?utm_source=x", "title": "T", "text": "Body", "published_at": "2016-04-24"}'
    )
    assert item.url == "https://ex.com/a"
    assert item.published_at == datetime(2016, 4, 24, tzinfo=UTC)
    item = parse_import_line(
        '{"url": "https://ex.com/b", "html": "<p>x</p>", "published_at": "2016-04-24T10:00:00+02:00"}'
    )
    assert item.published_at == datetime(2016, 4, 24, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"url": 7, "text": "y"}', "url must be a string"),
        ('{"url": "file:///etc/passwd", "text": "y"}', "http"),
        ('{"url": "https://ex.com/", "title": "only"}', "text or html"),
        ('{"url": "https://ex.com/", "text": "y", "published_at": "2999-01-01"}', "in the future"),
    ],
)
def test_bad_import_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(ImportLineError, match=message):
        parse_import_line(line)


def test_opml_round_trip_with_folders_as_tags_and_duplicates_skipped() -> None:
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head/><body>
    <outline text="World"><outline type="rss" text="A" xmlUrl="https://a.example/rss"/>
    <outline type="rss" text="A again" xmlUrl="https://A.example/rss"/></outline>
    <outline type="rss" text="B" xmlUrl="https://b.example/atom"/>
    <outline type="rss" text="Bad" xmlUrl="file:///etc/passwd"/></body></opml>"""
    parsed = parse_feed_list(opml)
    assert [(f.url, f.tags) for f in parsed.feeds] == [
        ("https://a.example/rss", ("World",)),
        ("https://b.example/atom", ()),
    ]
    assert len(parsed.skipped) == 2
    again = parse_feed_list(render_opml(list(parsed.feeds)))
    assert again.feeds == parsed.feeds


def test_plain_feed_list_and_entity_bomb_opml() -> None:
    parsed = parse_feed_list(b"# news\nhttps://a.example/rss\n\nnot-a-url\n")
    assert [f.url for f in parsed.feeds] == ["https://a.example/rss"]
    assert parsed.skipped and "line 4" in parsed.skipped[0]
    from worker.poll.opml import FeedListError

    with pytest.raises(FeedListError):
        parse_feed_list(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><opml><body/></opml>')
