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
    kept = normalise_item(parse_import_line(json.dumps({"url": "https://site.example/b", "html": poison, "text": text})))
    assert "approved the budget" in kept.text
