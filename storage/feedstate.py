"""The running-poll lease: at most one poll of a feed at a time, whoever delivers the task.

The dispatcher's claim (``lease_until`` set by ``repo.claim_due_feeds``) keeps
beat from enqueuing a feed twice; this lease covers what happens after: a
poll task delivered twice (a redelivery after a lost worker, a retried task,
a manual poll racing a scheduled one) must not fetch the feed twice at once.
Taking the lease is ONE conditional ``UPDATE`` — atomic on PostgreSQL (the
row lock re-checks the condition) and on SQLite (writers are serialised) —
and the one that changed the row owns the poll. A lease expires on its own
(``lease_until``), so a killed worker cannot block a feed for longer than that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CursorResult, and_, case, or_, update
from sqlalchemy.orm import Session

from storage.models import Feed


def begin_poll(
    session: Session,
    feed_id: int,
    token: str,
    now: datetime,
    *,
    lease: timedelta,
    only_if_due: bool = False,
) -> bool:
    """Take the feed's poll lease for ``token``; False if another poll holds it (or, with
    ``only_if_due``, if the feed is not due: a duplicate delivery after the poll finished)."""
    conditions = [
        Feed.id == feed_id,
        Feed.status != "gone",
        or_(Feed.poll_token.is_(None), Feed.lease_until.is_(None), Feed.lease_until < now),
    ]
    if only_if_due:
        conditions.append(Feed.next_poll_at <= now)
    # RETURNING the row puts it in the session, so reading the poll target costs no second query.
    taken = session.scalars(
        update(Feed)
        .where(and_(*conditions))
        .values(poll_token=token, poll_started_at=now, lease_until=now + lease)
        .returning(Feed)
        .execution_options(synchronize_session=False)
    ).all()
    return len(taken) == 1


def end_poll(session: Session, feed_id: int, token: str, *, next_poll_at: datetime | None = None) -> bool:
    """Give the lease back without recording a poll (the fetch never started, or failed
    outside HTTP); ``next_poll_at`` defers the feed. False if ``token`` no longer owns it."""
    values: dict[str, object] = {"poll_token": None, "poll_started_at": None, "lease_until": None}
    if next_poll_at is not None:  # defer, never bring a poll forward
        values["next_poll_at"] = case((Feed.next_poll_at < next_poll_at, next_poll_at), else_=Feed.next_poll_at)
    result = session.execute(
        update(Feed)
        .where(Feed.id == feed_id, Feed.poll_token == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def release_all_leases(session: Session) -> int:
    """Free every feed's poll lease (the embedded mode at start-up: no other process polls)."""
    result = session.execute(
        update(Feed)
        .where(Feed.lease_until.is_not(None))
        .values(poll_token=None, poll_started_at=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def release_if_owner(feed: Feed, token: str | None) -> None:
    """Called by ``repo.record_poll`` on the locked row: clear the lease only if ``token`` holds it.

    Without a token (a caller that took no lease) only a dispatcher claim is
    cleared; a lease some running poll holds is left to that poll.
    """
    if feed.poll_token is None or feed.poll_token == token:
        feed.poll_token = None
        feed.poll_started_at = None
        feed.lease_until = None
