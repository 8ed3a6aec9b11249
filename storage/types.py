"""Column types shared by models and migrations (migrations must not import models)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, TypeDecorator

from worker.model.clock import as_utc

# SQLite only has INTEGER PRIMARY KEY as an auto-incrementing rowid alias.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        aware = as_utc(value)
        if aware is not None and dialect.name == "sqlite":
            return aware.replace(tzinfo=None)
        return aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value)
