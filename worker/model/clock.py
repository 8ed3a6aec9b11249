"""The one clock. Everything that needs "now" asks here, so tests can pin it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone


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


def at_offset(value: datetime | None, offset_minutes: int | None) -> datetime | None:
    """The same instant on the publisher's clock (its UTC offset, when known), else in UTC."""
    aware = as_utc(value)
    if aware is None or offset_minutes is None:
        return aware
    return aware.astimezone(timezone(timedelta(minutes=offset_minutes)))


def isoformat_at(value: datetime | None, offset_minutes: int | None) -> str | None:
    """ISO 8601 on the publisher's clock when its offset is known (the same instant, and the
    calendar day the publisher printed), else as :func:`isoformat_utc`."""
    local = at_offset(value, offset_minutes)
    return None if local is None else local.isoformat().replace("+00:00", "Z")


def isoformat_utc(value: datetime | None) -> str | None:
    """ISO 8601 with a ``Z`` suffix, the export format."""
    if value is None:
        return None
    aware = as_utc(value)
    assert aware is not None
    return aware.isoformat().replace("+00:00", "Z")
