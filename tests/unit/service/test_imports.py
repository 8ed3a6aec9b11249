"""Import lines through the service layer's parsing and normalisation (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from worker.service.imports import ImportLineError, UnreadableDate, normalise_item, parse_import_line, parse_published


def test_an_import_line_with_a_pathological_page_is_skipped_with_its_reason_unless_it_has_text() -> None:
    poison = "<html><body><table>" + "<tr><td>x" * 30_000 + "</body></html>"
    with pytest.raises(ImportLineError, match="page too complex"):
        normalise_item(parse_import_line(json.dumps({"url": "https://site.example/a", "html": poison})))
    text = "The council approved the budget on Monday after a long debate about the new library."
    kept = normalise_item(
        parse_import_line(json.dumps({"url": "https://site.example/b", "html": poison, "text": text}))
    )
    assert "approved the budget" in kept.text


def test_a_line_without_an_address_gets_a_stable_one_on_its_outlet() -> None:
    line = json.dumps(
        {"title": "Fire on Mill Street", "text": "A house burned.", "date": "2016-05-02", "source": "KSL.com"}
    )
    item = parse_import_line(line, default_source="feed.jsonl")
    assert item.url.startswith("https://ksl-com.invalid/import/")
    assert parse_import_line(line, default_source="other.jsonl").url == item.url  # same line, same address
    edited = json.dumps(
        {"title": "Fire on Mill Street", "text": "A house burned down.", "date": "2016-05-02", "source": "KSL.com"}
    )
    assert parse_import_line(edited).url != item.url
    bare = json.dumps({"text": "A house burned."})
    assert parse_import_line(bare, default_source="Archiv Köln").url.startswith("https://archiv-k-ln.invalid/")
    assert parse_import_line(bare).url.startswith("https://import.invalid/")
    assert parse_import_line(json.dumps({"text": "x", "source": "東京新聞"})).url.startswith("https://source-")
    with pytest.raises(ImportLineError, match="url must be a string"):
        parse_import_line(json.dumps({"url": 7, "text": "x"}))


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2016-03-05 14:22:00 UTC", datetime(2016, 3, 5, 14, 22, tzinfo=UTC)),
        ("Saturday, March 5, 2016", datetime(2016, 3, 5, tzinfo=UTC)),
        ("Mar. 5, 2016", datetime(2016, 3, 5, tzinfo=UTC)),  # AP style
        ("5 Mar 2016 14:22", datetime(2016, 3, 5, tzinfo=UTC)),  # the day: a time after a written date is not kept
        ("03/25/2016 2:22 PM", datetime(2016, 3, 25, 14, 22, tzinfo=UTC)),
        ("03/25/2016 14:22", datetime(2016, 3, 25, 14, 22, tzinfo=UTC)),
        ("25/03/2016 09:30:15", datetime(2016, 3, 25, 9, 30, 15, tzinfo=UTC)),
        ("03/25/2016 12:05 AM", datetime(2016, 3, 25, 0, 5, tzinfo=UTC)),
        ("25/03/2016, 12:05 p.m.", datetime(2016, 3, 25, 12, 5, tzinfo=UTC)),
    ],
)
def test_the_dates_archives_write_are_read(written: str, instant: datetime) -> None:
    assert parse_published(written) == instant


@pytest.mark.parametrize("written", ["sometime last week", "yesterday 5pm", "03/25/2016 14:22 PM"])
def test_what_is_no_date_stays_unread(written: str) -> None:
    with pytest.raises(UnreadableDate):
        parse_published(written)
