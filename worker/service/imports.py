"""``newsworker import``: one JSON object a line, validated into a frozen item."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from worker.model.urls import InvalidURL, canonical_url


class ImportLineError(ValueError):
    """A line that cannot be imported; the message says what is wrong with it."""


@dataclass(frozen=True)
class ImportItem:
    url: str
    title: str | None
    text: str | None
    html: str | None
    published_at: datetime | None
    source: str | None


def parse_published(value: Any) -> datetime | None:
    """ISO 8601 date or datetime (``Z`` allowed); naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ImportLineError(f"published_at must be an ISO 8601 string or null, got {type(value).__name__}")
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ImportLineError(f"published_at is not an ISO 8601 date or datetime: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ImportLineError(f"{key} must be a string")
    return value


def parse_import_line(line: str) -> ImportItem:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImportLineError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ImportLineError("each line must be a JSON object")
    url = data.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ImportLineError("url is missing")
    try:
        canonical = canonical_url(url)
    except InvalidURL as exc:
        raise ImportLineError(str(exc)) from None
    text = _optional_str(data, "text")
    html = _optional_str(data, "html")
    if not (text and text.strip()) and not (html and html.strip()):
        raise ImportLineError("one of text or html is required")
    return ImportItem(
        url=canonical,
        title=_optional_str(data, "title"),
        text=text,
        html=html,
        published_at=parse_published(data.get("published_at")),
        source=_optional_str(data, "source"),
    )
