"""Units of work in flight (``work_items``): record, lease, finish, fail, and find the stale ones.

Translation only: when a lease is long enough, when an item counts as crashed or given up,
is decided by the service layer (``worker.service.work``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import WorkItem
from storage.upsert import inserted_keys

_MAX_ERROR = 2000


@dataclass(frozen=True)
class Lease:
    """What trying to lease one item found. ``claimed``: this owner holds it now;
    ``crashed``: the previous holder's lease had expired (its worker died or hung)."""

    found: bool
    claimed: bool = False
    state: str | None = None
    attempts: int = 0
    crashes: int = 0
    crashed: bool = False


def queued_row(kind: str, key: str, args: list[Any], now: datetime) -> dict[str, Any]:
    """A work item's row as it is first recorded: queued now, never tried."""
    return {
        "kind": kind,
        "key": key,
        "args": args,
        "state": "queued",
        "queued_at": now,
        "attempts": 0,
        "crashes": 0,
        "updated_at": now,
    }


def record(session: Session, items: Sequence[tuple[str, str, list[Any]]], now: datetime) -> None:
    """Note that these messages are being sent (in the transaction that created their work).

    An item already recorded is queued again (a failed one gets another chance: someone asked)."""
    if not items:
        return
    rows = [queued_row(kind, key, args, now) for kind, key, args in items]
    inserted = inserted_keys(session, WorkItem.__table__, rows, ["kind", "key"])  # type: ignore[arg-type]
    for kind, key, args in sorted(items, key=lambda item: (item[0], item[1])):
        if (kind, key) in inserted:
            continue
        session.execute(
            update(WorkItem)
            .where(WorkItem.kind == kind, WorkItem.key == key, WorkItem.queued_at < now)
            .values(state="queued", queued_at=now, args=args, crashes=0, last_error=None, updated_at=now)
        )


_T: Table = WorkItem.__table__  # type: ignore[assignment]
# Core statements built once: every message runs claim and finish once each, and the ORM's
# identity map, unit of work and bulk-delete synchronisation cost more than the SQL itself
_LEASE_ROW = select(_T.c.state, _T.c.lease_until, _T.c.lease_owner, _T.c.attempts, _T.c.crashes).where(
    _T.c.kind == bindparam("kind"), _T.c.key == bindparam("key")
)
_LEASE_ROW_LOCKED = _LEASE_ROW.with_for_update()
_TAKE_LEASE = (
    update(_T)
    .where(_T.c.kind == bindparam("b_kind"), _T.c.key == bindparam("b_key"))
    .values(
        attempts=bindparam("b_attempts"),
        crashes=bindparam("b_crashes"),
        lease_until=bindparam("until"),
        lease_owner=bindparam("owner"),
        updated_at=bindparam("now"),
    )
)
_FINISH = delete(_T).where(_T.c.kind == bindparam("kind"), _T.c.key == bindparam("key"))
# The common claim in one statement: a queued item that no other owner holds (never leased, or
# leased by this owner) is taken without reading it first. What it returns is what the read and
# the update of the general case give for such an item (no crash: nobody else held it).
_TAKE_UNHELD = (
    update(_T)
    .where(
        _T.c.kind == bindparam("b_kind"),
        _T.c.key == bindparam("b_key"),
        _T.c.state == "queued",
        or_(_T.c.lease_until.is_(None), _T.c.lease_owner.is_(None), _T.c.lease_owner == bindparam("owner")),
    )
    .values(
        attempts=_T.c.attempts + 1,
        lease_until=bindparam("until"),
        lease_owner=bindparam("owner"),
        updated_at=bindparam("now"),
    )
    .returning(_T.c.attempts, _T.c.crashes)
)


def claim(session: Session, kind: str, key: str, owner: str, now: datetime, until: datetime) -> Lease:
    """Lease the item for ``owner`` until ``until`` unless another live owner holds it."""
    conn = session.connection()
    values = {"b_kind": kind, "b_key": key, "owner": owner, "until": until, "now": now}
    taken = conn.execute(_TAKE_UNHELD, values).first()
    if taken is not None:
        return Lease(True, True, "queued", int(taken.attempts), int(taken.crashes), False)
    # missing, done or failed, held by another owner (alive, or its lease ran out: a crash)
    query = _LEASE_ROW_LOCKED if conn.dialect.name == "postgresql" else _LEASE_ROW
    row = conn.execute(query, {"kind": kind, "key": key}).one_or_none()
    if row is None:
        return Lease(found=False)
    if row.state != "queued":
        return Lease(found=True, state=row.state, attempts=row.attempts, crashes=row.crashes)
    held = row.lease_until is not None and row.lease_owner not in (None, owner)
    if held and row.lease_until is not None and row.lease_until > now:
        return Lease(found=True, state=row.state, attempts=row.attempts, crashes=row.crashes)
    crashed = held  # someone else's lease ran out before the work was done
    attempts, crashes = row.attempts + 1, row.crashes + int(crashed)
    conn.execute(
        _TAKE_LEASE,
        {"b_kind": kind, "b_key": key, "b_attempts": attempts, "b_crashes": crashes}
        | {"until": until, "owner": owner, "now": now},
    )
    return Lease(True, True, row.state, attempts, crashes, crashed)


def release(
    session: Session, kind: str, key: str, owner: str, until: datetime, now: datetime, *, started: bool = False
) -> None:
    """Keep the lease for ``owner`` until ``until`` (a retry is coming); ``started``: also count
    the start whose claim was rolled back with the work (claimed in the work's own transaction)."""
    session.execute(
        update(WorkItem)
        .where(WorkItem.kind == kind, WorkItem.key == key)
        .values(lease_until=until, lease_owner=owner, updated_at=now, attempts=WorkItem.attempts + int(started))
    )


def renew(session: Session, kind: str, key: str, owner: str, until: datetime, now: datetime) -> None:
    """A heartbeat of the running ``owner``: extend its lease to ``until`` (never shorten it, never
    touch an item another owner took or that is done or failed)."""
    session.execute(
        update(WorkItem)
        .where(
            WorkItem.kind == kind,
            WorkItem.key == key,
            WorkItem.state == "queued",
            WorkItem.lease_owner == owner,
            WorkItem.lease_until < until,
        )
        .values(lease_until=until, updated_at=now)
    )


def add_crash(session: Session, kind: str, key: str) -> int:
    """Count one more start that ended without an answer (killed, timed out); the new count."""
    session.execute(
        update(WorkItem).where(WorkItem.kind == kind, WorkItem.key == key).values(crashes=WorkItem.crashes + 1)
    )
    value = session.scalar(select(WorkItem.crashes).where(WorkItem.kind == kind, WorkItem.key == key))
    return int(value or 0)


def unlease(session: Session, kind: str, key: str, owner: str, now: datetime) -> None:
    """``owner`` stops without having run the item (an embedded run interrupted): free it at once
    for the next run, without counting a crash."""
    session.execute(
        update(WorkItem)
        .where(WorkItem.kind == kind, WorkItem.key == key, WorkItem.lease_owner == owner)
        .values(lease_until=None, lease_owner=None, updated_at=now)
    )


def lease_owners(session: Session, now: datetime) -> list[str]:
    """The owners holding a live lease on a queued item."""
    query = (
        select(WorkItem.lease_owner)
        .where(WorkItem.state == "queued", WorkItem.lease_owner.is_not(None), WorkItem.lease_until >= now)
        .distinct()
    )
    return [owner for owner in session.scalars(query) if owner is not None]


def unlease_owners(session: Session, owners: Collection[str], now: datetime) -> int:
    """Free every item leased by ``owners`` without counting a crash (see :func:`unlease`)."""
    if not owners:
        return 0
    result = session.execute(
        update(WorkItem)
        .where(WorkItem.state == "queued", WorkItem.lease_owner.in_(list(owners)))
        .values(lease_until=None, lease_owner=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def finish(session: Session, kind: str, key: str) -> None:
    session.connection().execute(_FINISH, {"kind": kind, "key": key})


def fail(session: Session, kind: str, key: str, error: str, now: datetime, *, crashed: bool = False) -> None:
    """The item will not be tried again until someone sends it anew; ``error`` says why."""
    session.execute(
        update(WorkItem)
        .where(WorkItem.kind == kind, WorkItem.key == key)
        .values(
            state="failed",
            lease_until=None,
            lease_owner=None,
            last_error=error[:_MAX_ERROR],
            crashes=WorkItem.crashes + int(crashed),
            updated_at=now,
        )
    )


def mark_unsent(session: Session, items: Sequence[tuple[str, str]], now: datetime, *, owner: str | None = None) -> None:
    """No message is on its way for these items (the broker refused the send, or the retry of
    ``owner``'s task): make them due for the sweeper now (a lease that ran out with no owner:
    sent again at the next tick, no crash counted). Items another worker holds are left alone."""
    held_by = WorkItem.lease_owner.is_(None) if owner is None else WorkItem.lease_owner == owner
    for kind, key in sorted(set(items)):
        session.execute(
            update(WorkItem)
            .where(WorkItem.kind == kind, WorkItem.key == key, WorkItem.state == "queued", held_by)
            .values(lease_until=now, lease_owner=None, updated_at=now)
        )


def claim_stale(
    session: Session,
    now: datetime,
    *,
    unstarted_before: datetime,
    idle_kinds: Iterable[str],
    limit: int,
    watched_until: datetime | None = None,
) -> list[WorkItem]:
    """Take queued items whose lease expired (or that were marked unsent: due now, no owner), or
    that were sent before ``unstarted_before``, never started and belong to a kind whose queue is
    idle (their message is lost); mark them sent again now, so one stale item is sent once, not at
    every tick (SKIP LOCKED: concurrent sweepers share).

    An expired lease counts as a crash of its owner only when it expired before ``watched_until``
    (default: now): until then the caller knows the database was reachable, so a live owner's
    heartbeat would have renewed it; a lease that ran out while nobody could reach the database
    is sent again without a crash."""
    watched = now if watched_until is None else watched_until
    idle = sorted(set(idle_kinds))
    stale = or_(
        and_(WorkItem.lease_until.is_not(None), WorkItem.lease_until < now),
        and_(WorkItem.lease_until.is_(None), WorkItem.queued_at < unstarted_before, WorkItem.kind.in_(idle)),
    )
    query = select(WorkItem).where(WorkItem.state == "queued", stale).order_by(WorkItem.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        # an unsent item has no owner
        crashed = row.lease_until is not None and row.lease_owner is not None and row.lease_until < watched
        row.crashes += int(crashed)
        row.queued_at = now
        row.lease_until = None
        row.lease_owner = None
        row.updated_at = now
    return rows


def claim_lost(
    session: Session,
    now: datetime,
    *,
    held: Collection[tuple[str, str]],
    kinds: Iterable[str],
    sent_before: datetime,
    limit: int,
) -> list[WorkItem]:
    """Take queued items of ``kinds`` sent before ``sent_before`` that no worker holds (no lease)
    and whose message is not among ``held`` (the (kind, key) of every message the broker holds):
    their message is lost. Marked sent again now (SKIP LOCKED, as :func:`claim_stale`)."""
    candidates = session.execute(
        select(_T.c.id, _T.c.kind, _T.c.key).where(
            _T.c.state == "queued",
            _T.c.lease_until.is_(None),
            _T.c.queued_at < sent_before,
            _T.c.kind.in_(sorted(set(kinds))),
        )
    ).all()
    lost = sorted(int(row.id) for row in candidates if (row.kind, row.key) not in held)[:limit]
    if not lost:
        return []
    query = (
        select(WorkItem)
        .where(WorkItem.id.in_(lost), WorkItem.state == "queued", WorkItem.lease_until.is_(None))
        .order_by(WorkItem.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.queued_at = now
        row.updated_at = now
    return rows


def queued_items(session: Session, *, limit: int) -> list[WorkItem]:
    """Every queued item (the embedded mode resends them all when it starts), locked for the
    caller's update; on PostgreSQL items another transaction holds (a worker finishing them) are
    skipped, so that one finished meanwhile cannot fail the update (``newsworker import`` into a
    database whose Celery workers were busy crashed at start with a StaleDataError)."""
    query = select(WorkItem).where(WorkItem.state == "queued").order_by(WorkItem.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def failures(session: Session, *, kind: str | None = None, key: str | None = None, limit: int = 100) -> list[WorkItem]:
    query = select(WorkItem).where(WorkItem.state == "failed")
    if kind is not None:
        query = query.where(WorkItem.kind == kind)
    if key is not None:
        query = query.where(WorkItem.key == key)
    return list(session.scalars(query.order_by(WorkItem.updated_at.desc()).limit(limit)))


def counts(session: Session, now: datetime) -> dict[tuple[str, str], int]:
    """(kind, queued|running|failed) -> items."""
    running = and_(WorkItem.state == "queued", WorkItem.lease_until.is_not(None), WorkItem.lease_until >= now)
    out: dict[tuple[str, str], int] = {}
    for kind, state, is_running, n in session.execute(
        select(WorkItem.kind, WorkItem.state, running, func.count()).group_by(WorkItem.kind, WorkItem.state, running)
    ):
        label = "running" if is_running else str(state)
        out[(str(kind), label)] = out.get((str(kind), label), 0) + int(n)
    return out
