"""Import lines through the service layer's parsing and normalisation (no database)."""

from __future__ import annotations

import json

import pytest

from worker.service.imports import ImportLineError, normalise_item, parse_import_line


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
