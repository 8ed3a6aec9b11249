"""The transactional outbox: events are rows written in the caller's transaction.

A change and its events commit or roll back together, so nothing is announced that did not
happen and nothing that happened goes unannounced. A relay then claims unpublished rows in
``seq`` order, publishes them and marks them published in one transaction: a relay that dies
between publishing and committing leaves them unpublished, and they are published again
(at-least-once; consumers dedupe by event id).

Order. ``seq`` comes from the insert, which the service layer makes after the change took its
locks (the article's row, the story window lock, the feed's row); two transactions that change
one subject are therefore serialised and their events get ``seq`` in commit order. Concurrent
relays on PostgreSQL claim with ``FOR UPDATE SKIP LOCKED`` (no event is claimed twice) and leave
an event for the next round when an earlier unpublished event of the same subject is held by
another relay, so the events of one article, story or feed reach the stream in commit order.
On SQLite every writer holds the database lock (``BEGIN IMMEDIATE``): one relay at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import EventOutbox
from worker.model.clock import as_utc
from worker.model.events import Event

Sink = Literal["stream", "webhook"]


# Every ingested article writes events twice (stored, linked), so the insert is the driver's own
# statement on the DBAPI cursor: the ORM's bulk insert cost 0.26 ms of client CPU per call, a Core
# insert 0.14 ms, exec_driver_sql 0.12 ms, the cursor 0.06 ms (a bare round trip is 0.05 ms;
# bench/events_cost.py measures the whole).
_COLUMNS = "(event_id, type, subject, occurred_at, data, delivery_attempts)"
_INSERT = {
    "postgresql": f"INSERT INTO event_outbox {_COLUMNS} VALUES (%s, %s, %s, %s, %s, 0)",
    "sqlite": f"INSERT INTO event_outbox {_COLUMNS} VALUES (?, ?, ?, ?, ?, 0)",
}


def add(session: Session, events: Iterable[Event | None]) -> int:
    """Insert events in the caller's transaction (call it after the change took its locks)."""
    found = [e for e in events if e is not None]
    if not found:
        return 0
    session.flush()  # the change's pending writes (and their row locks) come first
    conn = session.connection()
    dialect = conn.dialect.name
    sqlite = dialect == "sqlite"
    rows = [
        (
            e.id,
            e.type,
            e.subject,
            # what UTCDateTime stores: naive UTC text on SQLite, an aware timestamp on PostgreSQL
            _sqlite_time(e.occurred_at) if sqlite else as_utc(e.occurred_at),
            json.dumps(dict(e.data), separators=(",", ":")),
        )
        for e in found
    ]
    if dialect not in _INSERT:  # pragma: no cover - the two supported backends are above
        session.execute(insert(EventOutbox), [_row_dict(e) for e in found])
    else:
        # The DBAPI cursor of the session's own connection (same transaction), without
        # SQLAlchemy's execution layer around it: half the client CPU of exec_driver_sql.
        cursor = conn.connection.cursor()
        try:
            if len(rows) == 1:
                cursor.execute(_INSERT[dialect], rows[0])
            else:
                cursor.executemany(_INSERT[dialect], rows)
        finally:
            cursor.close()
    return len(rows)


def _sqlite_time(value: datetime) -> str:
    aware = as_utc(value)
    assert aware is not None
    return aware.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _row_dict(e: Event) -> dict[str, Any]:
    return {
        "event_id": e.id,
        "type": e.type,
        "subject": e.subject,
        "occurred_at": e.occurred_at,
        "data": dict(e.data),
        "delivery_attempts": 0,
    }


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event: Event
    delivery_attempts: int = 0


_T = EventOutbox.__table__
# Core, not ORM objects: a relay reads hundreds of rows a batch and needs no identity map.
_SELECT = select(
    _T.c.seq, _T.c.event_id, _T.c.type, _T.c.subject, _T.c.occurred_at, _T.c.data, _T.c.delivery_attempts,
    _T.c.next_delivery_at,
)  # fmt: skip


def _row(r: Any) -> OutboxRow:
    occurred = as_utc(r.occurred_at)
    assert occurred is not None
    return OutboxRow(
        r.seq,
        Event(type=r.type, subject=r.subject, data=dict(r.data or {}), id=r.event_id, occurred_at=occurred),
        r.delivery_attempts,
    )


def _pending(sink: Sink) -> ColumnElement[bool]:
    return EventOutbox.published_at.is_(None) if sink == "stream" else EventOutbox.delivered_at.is_(None)


def claim(session: Session, *, limit: int, sink: Sink = "stream", now: datetime | None = None) -> list[OutboxRow]:
    """Up to ``limit`` events not yet handed to ``sink``, oldest first.

    For the stream the rows are locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) until the
    caller's transaction ends; mark them with :func:`mark_published` before it commits. The
    webhook has a single deliverer (:func:`take_webhook_turn`) and locks no rows, so a slow
    receiver never holds up the stream; events waiting for a retry (``next_delivery_at`` in the
    future) hold back everything after them."""
    postgres = session.get_bind().dialect.name == "postgresql" and sink == "stream"
    query = _SELECT.where(_pending(sink)).order_by(_T.c.seq).limit(limit)
    if postgres:
        query = query.with_for_update(skip_locked=True)
    rows = list(session.execute(query))
    if not rows:
        return []
    if sink == "webhook" and now is not None:
        # Head-of-line: a failed delivery is retried before anything after it is sent.
        waiting = next((i for i, r in enumerate(rows) if r.next_delivery_at and as_utc(r.next_delivery_at) > now), None)  # type: ignore[operator]
        rows = rows[:waiting] if waiting is not None else rows
    if postgres and rows:
        rows = _in_subject_order(session, rows, sink)
    return [_row(r) for r in rows]


# pg_try_advisory_xact_lock key of the webhook deliverer ("nwhook" in ASCII)
_WEBHOOK_LOCK = 0x6E77686F6F6B


def take_webhook_turn(session: Session) -> bool:
    """PostgreSQL: True for the one transaction that may deliver webhooks now (released at its
    end). SQLite serialises writers anyway: always True."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(_WEBHOOK_LOCK))))


def _in_subject_order(session: Session, rows: list[Any], sink: Sink) -> list[Any]:
    """Drop claimed events whose subject has an earlier pending event this relay does not hold
    (another relay locked it): publishing them now would overtake it."""
    mine = {r.seq for r in rows}
    subjects = sorted({r.subject for r in rows})
    last = max(mine)
    earliest_foreign: dict[str, int] = {}
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        for subject, seq in session.execute(
            select(EventOutbox.subject, EventOutbox.seq).where(
                _pending(sink), EventOutbox.subject.in_(chunk), EventOutbox.seq < last
            )
        ):
            if seq not in mine and seq < earliest_foreign.get(subject, last + 1):
                earliest_foreign[subject] = seq
    if not earliest_foreign:
        return rows
    return [r for r in rows if r.seq < earliest_foreign.get(r.subject, last + 1)]


def mark_published(session: Session, seqs: Sequence[int], now: datetime) -> None:
    for start in range(0, len(seqs), 1000):
        session.execute(
            update(EventOutbox).where(EventOutbox.seq.in_(seqs[start : start + 1000])).values(published_at=now)
        )


def mark_delivered(session: Session, seqs: Sequence[int], now: datetime) -> None:
    for start in range(0, len(seqs), 1000):
        session.execute(
            update(EventOutbox)
            .where(EventOutbox.seq.in_(seqs[start : start + 1000]))
            .values(delivered_at=now, next_delivery_at=None, delivery_error=None)
        )


def delivery_failed(
    session: Session, seq: int, *, attempts: int, retry_at: datetime | None, error: str, now: datetime
) -> None:
    """Record a failed webhook delivery; ``retry_at`` None gives up on it (recorded as delivered
    with the error kept, so it stops holding back the events after it)."""
    values: dict[str, Any] = {
        "delivery_attempts": attempts,
        "delivery_error": error[:2000],
        "next_delivery_at": retry_at,
    }
    if retry_at is None:
        values["delivered_at"] = now
    session.execute(update(EventOutbox).where(EventOutbox.seq == seq).values(**values))


def prune(session: Session, older_than: datetime, *, sinks: Sequence[Sink]) -> int:
    """Delete events older than ``older_than`` that every configured sink has (all of them
    when no sink is configured: the outbox is then the only log, kept for the retention)."""
    done: list[ColumnElement[bool]] = []
    if "stream" in sinks:
        done.append(EventOutbox.published_at.is_not(None))
    if "webhook" in sinks:
        done.append(EventOutbox.delivered_at.is_not(None))
    result: Any = session.execute(delete(EventOutbox).where(and_(EventOutbox.occurred_at < older_than, *done)))
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Backlog:
    unpublished: int
    oldest_at: datetime | None

    def oldest_age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_at).total_seconds()) if self.oldest_at is not None else 0.0


def backlog(session: Session, *, sinks: Sequence[Sink] = ("stream",)) -> Backlog:
    """Events some configured sink has not taken yet, and when the oldest of them happened."""
    pending = [_pending(s) for s in sinks] or [EventOutbox.published_at.is_(None)]
    condition = or_(*pending)
    count = session.scalar(select(func.count()).select_from(EventOutbox).where(condition)) or 0
    # the lowest pending seq is the oldest pending event (partial index, one row read)
    oldest = session.scalar(select(EventOutbox.occurred_at).where(condition).order_by(EventOutbox.seq).limit(1))
    return Backlog(int(count), as_utc(oldest))


def read_after(session: Session, after_seq: int, *, limit: int = 500, types: Sequence[str] = ()) -> list[OutboxRow]:
    """Events after ``after_seq`` in order, published or not (``events tail`` without Redis)."""
    query = _SELECT.where(_T.c.seq > after_seq).order_by(_T.c.seq).limit(limit)
    if types:
        query = query.where(_T.c.type.in_(list(types)))
    return [_row(r) for r in session.execute(query)]


def last_seq(session: Session) -> int:
    return int(session.scalar(select(func.max(EventOutbox.seq))) or 0)


def seq_of(session: Session, event_id: str) -> int | None:
    return session.scalar(select(EventOutbox.seq).where(EventOutbox.event_id == event_id))


def retention_cutoff(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)
