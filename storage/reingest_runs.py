"""Re-ingest runs: the selected articles, per-article progress, and in-place article updates.

Progress lives in the database (``reingest_runs`` / ``reingest_items``) so that
the CLI that started a run, a later ``reingest status`` and every worker see the
same numbers. An item moves from ``pending`` exactly once (the update is
conditional), so a re-delivered task neither counts twice nor re-does work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session

from storage.models import Article, ReingestItem, ReingestRun
from storage.upsert import insert_ignore

ITEM_STATES = ("pending", "done", "failed", "cancelled")


class RunNotFound(LookupError):
    pass


class RunNotResumable(ValueError):
    pass


def create_run(session: Session, *, selection: dict[str, Any], mode: str, refetch_feeds: bool, now: datetime) -> int:
    run = ReingestRun(
        selection=selection,
        mode=mode,
        refetch_feeds=refetch_feeds,
        status="selecting",
        total=0,
        enqueued=0,
        created_at=now,
    )
    session.add(run)
    session.flush()
    return int(run.id)


def add_items(session: Session, run_id: int, article_ids: Sequence[int]) -> int:
    """Add one page of articles (ascending, after every earlier page) to a run; returns how many it holds.

    Counted, not taken from rowcount (drivers disagree on rowcount for
    executemany); counting only the page's id range keeps this flat per page.
    """
    if not article_ids:
        return 0
    insert_ignore(
        session,
        ReingestItem.__table__,  # type: ignore[arg-type]
        [{"run_id": run_id, "article_id": i, "state": "pending"} for i in article_ids],
        ["run_id", "article_id"],
    )
    added = int(
        session.scalar(
            select(func.count())
            .select_from(ReingestItem)
            .where(ReingestItem.run_id == run_id, ReingestItem.article_id.between(min(article_ids), max(article_ids)))
        )
        or 0
    )
    session.execute(update(ReingestRun).where(ReingestRun.id == run_id).values(total=ReingestRun.total + added))
    return added


def set_status(session: Session, run_id: int, status: str, *, now: datetime | None = None) -> None:
    values: dict[str, Any] = {"status": status}
    if now is not None:
        values["finished_at"] = now
    session.execute(update(ReingestRun).where(ReingestRun.id == run_id).values(**values))


def add_enqueued(session: Session, run_id: int, count: int) -> None:
    session.execute(update(ReingestRun).where(ReingestRun.id == run_id).values(enqueued=ReingestRun.enqueued + count))


def pending_article_ids(session: Session, run_id: int, *, after: int = 0, limit: int = 500) -> list[int]:
    """The run's pending articles in id order, one keyset page."""
    query = (
        select(ReingestItem.article_id)
        .where(ReingestItem.run_id == run_id, ReingestItem.state == "pending", ReingestItem.article_id > after)
        .order_by(ReingestItem.article_id)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query)]


def pending_among(session: Session, run_id: int, article_ids: Sequence[int]) -> set[int]:
    """Which of these items are still pending (others were done by an earlier delivery, or cancelled)."""
    if not article_ids:
        return set()
    return {
        int(i)
        for i in session.scalars(
            select(ReingestItem.article_id).where(
                ReingestItem.run_id == run_id,
                ReingestItem.state == "pending",
                ReingestItem.article_id.in_(list(article_ids)),
            )
        )
    }


@dataclass(frozen=True)
class ItemResult:
    article_id: int
    state: str  # done | failed
    outcome: str | None
    error: str | None


def finish_items(session: Session, run_id: int, results: Sequence[ItemResult], now: datetime) -> None:
    """Move items out of ``pending`` in one statement batch; an item already moved is left alone."""
    if not results:
        return
    table = ReingestItem.__table__
    statement = (
        update(table)  # type: ignore[arg-type]
        .where(
            table.c.run_id == bindparam("b_run"),
            table.c.article_id == bindparam("b_article"),
            table.c.state == "pending",
        )
        .values(state=bindparam("b_state"), outcome=bindparam("b_outcome"), error=bindparam("b_error"), finished_at=now)
    )
    session.execute(
        statement,
        [
            {
                "b_run": run_id,
                "b_article": r.article_id,
                "b_state": r.state,
                "b_outcome": r.outcome,
                "b_error": r.error[:2000] if r.error else None,
            }
            for r in sorted(results, key=lambda r: r.article_id)
        ],
    )


def cancel_pending(session: Session, run_id: int, *, after: int, now: datetime) -> int:
    """Cancel the pending items past ``after`` (those never enqueued before an interrupt)."""
    result: Any = session.execute(
        update(ReingestItem)
        .where(ReingestItem.run_id == run_id, ReingestItem.state == "pending", ReingestItem.article_id > after)
        .values(state="cancelled", finished_at=now)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class RunProgress:
    run_id: int
    status: str
    mode: str
    selection: dict[str, Any]
    refetch_feeds: bool
    total: int
    enqueued: int
    pending: int
    done: int
    failed: int
    cancelled: int
    changed: int
    updated: int
    unchanged: int
    missing: int
    created_at: datetime
    finished_at: datetime | None

    @property
    def completed(self) -> int:
        """Items that will not change any more."""
        return self.done + self.failed + self.cancelled

    @property
    def finished(self) -> bool:
        return self.status != "selecting" and self.status != "enqueuing" and self.pending == 0

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * self.completed / self.total

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "mode": self.mode,
            "selection": self.selection,
            "refetch_feeds": self.refetch_feeds,
            "total": self.total,
            "enqueued": self.enqueued,
            "pending": self.pending,
            "done": self.done,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "changed": self.changed,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "missing": self.missing,
            "percent": round(self.percent, 1),
            "finished": self.finished,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def progress(session: Session, run_id: int) -> RunProgress:
    run = session.get(ReingestRun, run_id)
    if run is None:
        raise RunNotFound(f"no re-ingest run {run_id} (see `newsworker reingest status`)")
    states = dict.fromkeys(ITEM_STATES, 0)
    outcomes: dict[str, int] = {}
    for state, outcome, count in session.execute(
        select(ReingestItem.state, ReingestItem.outcome, func.count())
        .where(ReingestItem.run_id == run_id)
        .group_by(ReingestItem.state, ReingestItem.outcome)
    ):
        states[state] = states.get(state, 0) + int(count)
        if outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
    return RunProgress(
        run_id=run.id,
        status=run.status,
        mode=run.mode,
        selection=dict(run.selection or {}),
        refetch_feeds=run.refetch_feeds,
        total=run.total,
        enqueued=run.enqueued,
        pending=states["pending"],
        done=states["done"],
        failed=states["failed"],
        cancelled=states["cancelled"],
        changed=outcomes.get("changed", 0),
        updated=outcomes.get("updated", 0),
        unchanged=outcomes.get("unchanged", 0),
        missing=outcomes.get("missing", 0),
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def complete_if_finished(session: Session, run_id: int, now: datetime) -> bool:
    """Stamp the run finished once nothing is pending (any worker may be the last one)."""
    pending = session.scalar(
        select(func.count())
        .select_from(ReingestItem)
        .where(ReingestItem.run_id == run_id, ReingestItem.state == "pending")
    )
    if pending:
        return False
    result: Any = session.execute(
        update(ReingestRun)
        .where(ReingestRun.id == run_id, ReingestRun.status.in_(("running", "interrupted")))
        .where(ReingestRun.finished_at.is_(None))
        .values(
            status=case((ReingestRun.status == "running", "done"), else_=ReingestRun.status),
            finished_at=now,
        )
    )
    return bool(result.rowcount)


def resume(session: Session, run_id: int, *, mode: str, force: bool = False) -> tuple[int, int]:
    """Put an interrupted run's cancelled items back to pending.

    Returns (items to hand out, article id after which they start): items enqueued
    before the interrupt are still pending in the queue and must not be sent twice.

    ``force`` also takes a run left "enqueuing" by a process that died without a word
    (SIGKILL, lost container): nothing was cancelled, so the split is read off the
    ``enqueued`` counter, which counts whole batches in article-id order. A batch sent but
    not yet counted when the process died is sent again; workers skip items that are no
    longer pending, so that costs a little work, never a duplicate article.
    """
    run = session.get(ReingestRun, run_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if run is None:
        raise RunNotFound(f"no re-ingest run {run_id} (see `newsworker reingest status`)")
    if run.status == "enqueuing" and force:
        after = _last_enqueued_article(session, run_id, run.enqueued)
    elif run.status == "running" and force:
        # its process is gone (killed, a database error on Ctrl-C): every pending item is still
        # to do; a worker that still holds one of them skips it once it is done here
        after = 0
    elif run.status not in ("interrupted", "cancelled"):
        hint = (
            "; if the process that was enqueuing it is gone (killed, container lost), "
            f"`newsworker reingest resume {run_id} --force` enqueues the rest"
            if run.status == "enqueuing"
            else (
                f"; if the process running it is gone, `newsworker reingest resume {run_id} --force` continues it"
                f" and `newsworker reingest cancel {run_id}` ends it"
                if run.status == "running"
                else ""
            )
        )
        raise RunNotResumable(
            f"run {run_id} is {run.status}, not interrupted; follow it with `newsworker reingest status {run_id}`{hint}"
        )
    else:
        first = session.scalar(
            select(func.min(ReingestItem.article_id)).where(
                ReingestItem.run_id == run_id, ReingestItem.state == "cancelled"
            )
        )
        after = int(first) - 1 if first is not None else 0
        session.execute(
            update(ReingestItem)
            .where(ReingestItem.run_id == run_id, ReingestItem.state == "cancelled")
            .values(state="pending", finished_at=None)
        )
    run.status = "enqueuing" if mode == "celery" else "running"
    run.mode = mode
    run.finished_at = None
    session.flush()
    todo = session.scalar(
        select(func.count())
        .select_from(ReingestItem)
        .where(ReingestItem.run_id == run_id, ReingestItem.state == "pending", ReingestItem.article_id > after)
    )
    return int(todo or 0), after


def cancel_run(session: Session, run_id: int, *, now: datetime) -> int:
    """End a run whose process is gone: its pending items are cancelled (``resume`` takes them
    up again). Returns the items cancelled."""
    run = session.get(ReingestRun, run_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if run is None:
        raise RunNotFound(f"no re-ingest run {run_id} (see `newsworker reingest status`)")
    if run.status in ("done", "cancelled"):
        raise RunNotResumable(f"run {run_id} is {run.status}: nothing to cancel")
    result: Any = session.execute(
        update(ReingestItem)
        .where(ReingestItem.run_id == run_id, ReingestItem.state == "pending")
        .values(state="cancelled", finished_at=now)
    )
    run.status = "cancelled"
    run.finished_at = now
    return int(result.rowcount or 0)


def _last_enqueued_article(session: Session, run_id: int, enqueued: int) -> int:
    """The article id of the last item counted as enqueued (items go out in id order)."""
    if enqueued <= 0:
        return 0
    last = session.scalar(
        select(ReingestItem.article_id)
        .where(ReingestItem.run_id == run_id)
        .order_by(ReingestItem.article_id)
        .offset(enqueued - 1)
        .limit(1)
    )
    return int(last) if last is not None else 0


def recent_runs(session: Session, *, limit: int = 20) -> list[int]:
    return [int(i) for i in session.scalars(select(ReingestRun.id).order_by(ReingestRun.id.desc()).limit(limit))]


# ---------------------------------------------------------------- articles


def article_ids_exist(session: Session, ids: Iterable[int]) -> set[int]:
    wanted = list(ids)
    if not wanted:
        return set()
    return {int(i) for i in session.scalars(select(Article.id).where(Article.id.in_(wanted)))}


def failures(session: Session, run_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ReingestItem.article_id, ReingestItem.error)
        .where(ReingestItem.run_id == run_id, ReingestItem.state == "failed")
        .order_by(ReingestItem.article_id)
        .limit(limit)
    )
    return [{"article_id": int(a), "error": e} for a, e in rows]
