"""Values cut to their column's size: a bounded column never refuses a row (PostgreSQL raises
StringDataRightTruncation, SQLite would silently store more than the schema says).

Addresses are not cut here: a cut address is another address; callers refuse over-long ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, Table

_NEVER_CUT = frozenset({"url", "link_key", "entry_key", "redirect_url", "site_url", "image_url", "identity"})


def fit(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every string longer than its VARCHAR column cut to the column's length."""
    out = dict(values)
    for name, value in values.items():
        if not isinstance(value, str) or name in _NEVER_CUT or name not in table.c:
            continue
        column_type = table.c[name].type
        length = getattr(column_type, "length", None) if isinstance(column_type, String) else None
        if length is not None and len(value) > length:
            out[name] = value[:length]
    return out


def fit_text(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None and len(value) > length else value
