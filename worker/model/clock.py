"""The one clock. Everything that needs "now" asks here, so tests can pin it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime; a naive value is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat_utc(value: datetime | None) -> str | None:
    """ISO 8601 with a ``Z`` suffix, the export format."""
    if value is None:
        return None
    aware = as_utc(value)
    assert aware is not None
    return aware.isoformat().replace("+00:00", "Z")
