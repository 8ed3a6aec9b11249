"""Work in flight, owned by the database: send after commit, lease while running, sweep what was lost.

Why: with Redis as the broker, a message taken by a worker that is then killed stays in Redis's
unacknowledged set until the visibility timeout (hours); when Redis itself dies, a late-ack task
is terminated and its message is gone from the broker's view. So the broker is only the delivery
path; the database says what is still to do:

- :func:`send_after_commit` writes a ``work_items`` row for each tracked message in the
  transaction that created its work, and sends the message once that transaction committed;
- :func:`run` (every Celery task and the embedded mode go through it) leases the row for the
  task's hard time limit plus a margin, runs the handler, deletes the row when the work is done,
  records a data error on the item (never retried), and keeps the lease over a transient
  error's retry delay;
- :func:`sweep` (beat's dispatch tick, and ``newsworker run``) sends again, once, every row
  whose lease ran out (its worker died) and every row that was sent, never started, and whose
  queue is idle (its message was lost). ``FOR UPDATE SKIP LOCKED`` lets sweepers run side by side.

An item whose worker died ``MAX_CRASHES`` times, or that was started ``MAX_ATTEMPTS`` times, is
recorded as failed with the reason: a poison page never loops and never blocks anything else.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage import work as store
from storage.db import after_commit
from worker.http.hostlimits import HostBusy
from worker.model.clock import utcnow
from worker.service.errors import TRANSIENT_ERRORS, TransientFailure, is_interruption, is_transient
from worker.service.messages import Message, decode
from worker.service.owners import embedded_owner_is_gone
from worker.service.runtime import BrokerLook, BrokerWatch, Runtime

log = logging.getLogger("newsworker.work")

# A lease outlasts the hard time limit by this much: a live task is never taken for dead.
LEASE_MARGIN = timedelta(seconds=15)
# A running task's item is leased for a third of that (never less than this) and renewed every
# third of the live lease by a heartbeat while the task runs: a killed worker's item is free
# within one live lease (30 s with the defaults), not one full lease (90 s).
LIVE_LEASE_MIN = timedelta(seconds=10)
MAX_CRASHES = 3  # workers that died on one item before it is given up
MAX_ATTEMPTS = 30  # starts of one item (transient failures included) before it is given up
SWEEP_BATCH = 500
# After a broker restart: items sent this recently may be on their way to a worker, not lost
LOST_MARGIN = timedelta(seconds=2)
LOST_BATCH = 10_000  # lost items sent again per tick (the rest at the next one)


def lease_length(rt: Runtime) -> timedelta:
    """How long a started item is presumed alive: the task's hard time limit plus a margin."""
    return timedelta(seconds=rt.settings.task_time_limit_seconds) + LEASE_MARGIN


def live_lease(rt: Runtime) -> timedelta:
    """How long a running item stays leased without a heartbeat (see ``LIVE_LEASE_MIN``)."""
    full = lease_length(rt)
    return min(full, max(LIVE_LEASE_MIN, full / 3))


def send_after_commit(rt: Runtime, session: Session, messages: Sequence[Message], *, now: datetime) -> None:
    """Record tracked messages in this transaction and send every message after it commits."""
    if not messages:
        return
    record(session, messages, now=now)
    after_commit(session, lambda: _send(rt, messages))


def _send(rt: Runtime, messages: Sequence[Message]) -> None:
    """Send after the commit. A send the broker refuses (down, restarting) loses nothing: the
    work is committed and recorded, and its item is marked unsent, so that the sweeper's next
    tick sends it again (an item that left without an error and was lost in the broker waits
    for its queue to be idle); the unit of work that sent it is done, not failed."""
    unsent: list[Message] = []
    for item in messages:
        try:
            rt.dispatcher.send(item)
        except Exception as exc:
            unsent.append(item)
            log.warning(
                "cannot send now; the sweeper sends it again",
                extra={"task_name": item.NAME, **item.subject(), "error": repr(exc)[:500]},
            )
    tracked = [(m.NAME, m.key()) for m in unsent if m.TRACKED]
    if not tracked:
        return
    try:
        with rt.db.transaction() as session:
            store.mark_unsent(session, tracked, utcnow())
    except Exception as exc:  # the database is away too: the item waits for its idle queue
        log.warning("cannot mark work unsent", extra={"unsent": len(tracked), "error": repr(exc)[:500]})


def record(session: Session, messages: Sequence[Message], *, now: datetime) -> None:
    """Record tracked messages in this transaction (the caller sends them after it commits)."""
    store.record(session, [(m.NAME, m.key(), m.args()) for m in messages if m.TRACKED], now)


@dataclass(frozen=True)
class Skipped:
    """:func:`run` did not run the message: ``why`` is held, failed, gave_up, transient."""

    why: str


def run(
    rt: Runtime,
    message: Message,
    *,
    owner: str,
    timeouts: tuple[type[BaseException], ...] = (),
    retry_in: float | None = None,
    heartbeat: bool = False,
) -> object:
    """Run one message under its lease (the one path for Celery tasks and the embedded mode).

    Raises only transient errors (the caller retries them); anything else is recorded on the
    item and returned as a :class:`Skipped` so that one bad item never crashes a worker.
    ``timeouts``: the entry point's time-limit exceptions, counted like a crash. ``retry_in``:
    the seconds the caller will wait before retrying a transient failure (see :func:`attempt`).
    ``heartbeat``: lease the item for a live lease only and renew it while the handler runs
    (Celery workers: a killed worker's item is free sooner; the embedded mode, where nothing
    else runs the work, keeps the full lease and no extra writer thread).

    In three parts, which the embedded mode's pool calls around a message's stages
    (:mod:`worker.service.pool`): :func:`lease` takes the lease (or leaves it to the handler's
    first transaction), :func:`attempt` runs one stage with this error handling, :func:`done`
    ends the item (unless the handler's last transaction did)."""
    held = lease(rt, message, owner, live=heartbeat)
    if held.refused:
        return Skipped("held")
    call = (lambda: _beating(rt, message, owner, message.handle)) if heartbeat else (lambda: message.handle(rt))
    result = attempt(rt, message, owner, call, timeouts=timeouts, retry_in=retry_in, lease=held)
    if not isinstance(result, Skipped):
        done(rt, message, held)
    return result


@dataclass(eq=False)
class Lease:
    """One run's lease on a tracked message's item.

    ``pending``: not taken yet; the handler takes it in its first transaction (:func:`claim_in`)
    instead of a transaction of its own. ``refused``: the item must not run now (held by a live
    worker, done, failed or given up). ``finished``: the handler's last transaction ended the item
    (:func:`finish_in`), so :func:`done` has nothing left to write."""

    rt: Runtime
    message: Message
    owner: str
    length: timedelta
    pending: bool = False
    refused: bool = False
    committed: bool = False  # a claim taken in the handler's transaction was committed
    finished: bool = False


# The lease of the message whose stage runs in this thread (set by :func:`attempt`).
_CURRENT: ContextVar[Lease | None] = ContextVar("newsworker_work_lease", default=None)
_CLAIMED_KEY = "newsworker_lease_claimed"


def lease(rt: Runtime, message: Message, owner: str, *, live: bool = False) -> Lease:
    """``owner``'s lease on ``message``'s item: taken now (its own transaction, as :func:`begin`),
    or left pending for the handler's first transaction when the message says its handler takes
    it there (``Message.LEASE_IN_HANDLER``: "before_work" always, "with_work" without ``live``)."""
    if not message.TRACKED:
        return Lease(rt, message, owner, timedelta(0))
    length = live_lease(rt) if live else lease_length(rt)
    held = Lease(rt, message, owner, length)
    if message.LEASE_IN_HANDLER == "before_work" or (message.LEASE_IN_HANDLER == "with_work" and not live):
        held.pending = True
        return held
    held.refused = not _start(rt, message, owner, length)
    return held


def claim_in(session: Session, message: Message) -> bool:
    """Take the pending lease of ``message`` (the one this thread runs) in the caller's first
    transaction; False: the item must not run now, and the caller returns without doing anything
    (its transaction still commits, with what giving the item up wrote). True when there is no
    pending lease for ``message`` (taken before, or the handler was called directly)."""
    held = _CURRENT.get()
    if held is None or not held.pending or held.message != message:
        return True
    if held.committed or session.info.get(_CLAIMED_KEY) is held:
        return not held.refused  # taken earlier in this run (a conflict's retry is a new transaction)
    ok = _claim(held.rt, session, message, held.owner, held.length)
    held.refused = not ok
    session.info[_CLAIMED_KEY] = held

    def committed() -> None:
        held.committed = True

    after_commit(session, committed)
    return ok


def finish_in(session: Session, message: Message) -> None:
    """End ``message``'s item in the caller's last transaction (the work is done when it commits),
    so :func:`done` writes nothing more; nothing when no lease of ``message`` runs in this thread."""
    held = _CURRENT.get()
    if held is None or held.message != message or not message.TRACKED or held.refused:
        return
    store.finish(session, message.NAME, message.key())

    def finished() -> None:
        held.finished = True

    after_commit(session, finished)


@contextmanager
def _running(held: Lease | None) -> Iterator[None]:
    token = _CURRENT.set(held)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def begin(rt: Runtime, message: Message, owner: str, *, live: bool = False) -> bool:
    """Lease a tracked message's item for ``owner``; False when it must not run now.

    ``live``: a live lease (:func:`live_lease`) that the caller keeps renewing while it runs
    (:func:`run` does); otherwise the full lease, the hard time limit plus a margin."""
    if not message.TRACKED:
        return True
    return _start(rt, message, owner, live_lease(rt) if live else lease_length(rt))


def _beating(rt: Runtime, message: Message, owner: str, handle: Callable[[Runtime], object]) -> object:
    """``handle(rt)`` while a heartbeat thread renews the item's live lease every third of it,
    never past the full lease from the start (the hard time limit ends the task by then). The
    heartbeat stops before the caller's error handling keeps or ends the lease; a renewal only
    ever extends the lease of its own owner, so a late one cannot shorten a lease kept for a retry."""
    if not message.TRACKED:
        return handle(rt)
    live = live_lease(rt)
    if live >= lease_length(rt):
        return handle(rt)  # short time limits: the full lease is already as short
    cap = utcnow() + lease_length(rt)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(live.total_seconds() / 3):
            now = utcnow()
            try:
                with rt.db.transaction() as session:
                    store.renew(session, message.NAME, message.key(), owner, min(now + live, cap), now)
            except Exception as exc:  # the database is away: the lease runs out, the sweeper resends
                log.warning("cannot renew the lease", extra={"task_name": message.NAME, "error": repr(exc)[:300]})

    thread = threading.Thread(target=beat, name=f"lease-{message.NAME}-{message.key()}", daemon=True)
    thread.start()
    try:
        return handle(rt)
    finally:
        stop.set()
        thread.join(timeout=5)


def attempt(
    rt: Runtime,
    message: Message,
    owner: str,
    call: Callable[[], object],
    *,
    timeouts: tuple[type[BaseException], ...] = (),
    retry_in: float | None = None,
    lease: Lease | None = None,
) -> object:
    """``call()`` (the message's work, or one stage of it) with :func:`run`'s error handling.

    ``lease``: the run's lease, which the handler may take (:func:`claim_in`) and end
    (:func:`finish_in`) in its own transactions; refused there, the result is ``Skipped("held")``.

    A transient failure keeps the item leased for ``retry_in`` seconds (the caller's retry
    countdown; None: the longest back-off) plus one lease, so that only the retry takes it up,
    and the sweeper sends it again soon after that retry was due if the retry never came (its
    worker died during the countdown, or the broker lost or refused the retry message). An
    interruption (the process is being stopped) leaves the lease as it is: no retry will come
    from here, and the lease taken at the start runs out within one lease."""
    wait = timedelta(seconds=message.RETRY.backoff_max if retry_in is None else max(0.0, retry_in))
    held = lease
    try:
        with _running(held):
            result = call()
        return Skipped("held") if held is not None and held.refused else result
    except HostBusy as busy:
        keep_lease(rt, message, owner, timedelta(seconds=max(1.0, busy.retry_after_seconds)), lease=held)
        raise
    except timeouts as exc:
        keep_lease(rt, message, owner, wait, crashed=True, lease=held)
        log.warning("work timed out", extra={"task_name": message.NAME, **message.subject(), "error": repr(exc)})
        raise
    except Exception as exc:
        if is_transient(exc) and message.RETRY.transient:
            if is_interruption(exc):
                log.warning(  # tracked work's lease runs out; beat's passes run at the next tick
                    "work interrupted: not retried from here",
                    extra={"task_name": message.NAME, **message.subject(), "error": repr(exc)[:500]},
                )
            else:
                keep_lease(rt, message, owner, wait, lease=held)
            if not isinstance(exc, TRANSIENT_ERRORS):  # transient by its chain: make Celery retry it too
                raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
            raise
        if is_transient(exc) and not message.TRACKED:
            # Beat's periodic passes (never retried): the next tick runs them again. Nothing to
            # record, and recording would need the database that is likely away right now.
            log.warning(
                "work not done: transient failure, the next tick runs it again",
                extra={"task_name": message.NAME, "error": repr(exc)[:500]},
            )
            return Skipped("transient")
        reason = f"{type(exc).__name__}: {exc}"
        log.error(
            "work failed",
            extra={"task_name": message.NAME, **message.subject(), "error": reason[:500]},
            exc_info=not isinstance(exc, ValueError),
        )
        _fail(rt, message, reason, detail=traceback.format_exc(limit=4))
        return Skipped("failed")


def done(rt: Runtime, message: Message, lease: Lease | None = None) -> None:
    """The message's work is done: its item goes (unless the handler's last transaction ended it)."""
    if message.TRACKED and not (lease is not None and lease.finished):
        with rt.db.transaction() as session:
            store.finish(session, message.NAME, message.key())


def let_go(rt: Runtime, messages: Sequence[Message], owner: str) -> None:
    """Free the items ``owner`` leased and will not finish (Ctrl-C in the embedded mode), so that
    the next run takes them at once; no crash is counted."""
    tracked = [m for m in messages if m.TRACKED]
    if not tracked:
        return
    now = utcnow()
    with rt.db.transaction() as session:
        for message in tracked:
            store.unlease(session, message.NAME, message.key(), owner, now)


def free_leases_of_gone_processes(rt: Runtime) -> int:
    """Free the items whose lease an embedded process of this host took and can no longer free
    (it was killed, or freeing them failed): the embedded mode at start-up takes them up at once.
    Leases of live processes and of Celery workers are left as they are. Returns the items freed."""
    now = utcnow()
    with rt.db.transaction() as session:
        gone = [owner for owner in store.lease_owners(session, now) if embedded_owner_is_gone(owner)]
        freed = store.unlease_owners(session, gone, now)
    if freed:
        log.warning("work left leased by a stopped run taken up", extra={"resent": freed, "owners": gone[:5]})
    return freed


def _start(rt: Runtime, message: Message, owner: str, lease_for: timedelta) -> bool:
    with rt.db.transaction() as session:
        return _claim(rt, session, message, owner, lease_for)


def _claim(rt: Runtime, session: Session, message: Message, owner: str, lease_for: timedelta) -> bool:
    """Lease the item in ``session``'s transaction; False: it must not run now (giving it up is
    written in the same transaction)."""
    now = utcnow()
    lease = store.claim(session, message.NAME, message.key(), owner, now, now + lease_for)
    if not lease.found:
        return True  # sent before this release, or by hand: idempotent, just run it
    if not lease.claimed:
        return False  # done, failed for good, or another live worker holds it
    if lease.crashes >= MAX_CRASHES or lease.attempts > MAX_ATTEMPTS:
        reason = (
            f"gave up: the worker died {lease.crashes} times on this item"
            if lease.crashes >= MAX_CRASHES
            else f"gave up after {lease.attempts - 1} attempts"
        )
        store.fail(session, message.NAME, message.key(), reason, now)
        message.on_failure(rt, session, reason)
        log.error("work given up", extra={"task_name": message.NAME, **message.subject(), "error": reason})
        return False
    if lease.crashed:
        log.warning("work resumed after a worker died", extra={"task_name": message.NAME, **message.subject()})
    return True


def keep_lease(
    rt: Runtime, message: Message, owner: str, delay: timedelta, *, crashed: bool = False, lease: Lease | None = None
) -> None:
    """A retry is coming after ``delay``: keep the item ours until then (plus one lease).

    ``lease``: the run's lease; one the handler was to take in a transaction that never committed
    counts this start here (every start counts towards ``MAX_ATTEMPTS``)."""
    if not message.TRACKED:
        return
    now = utcnow()
    uncounted = lease is not None and lease.pending and not lease.committed
    try:
        with rt.db.transaction() as session:
            store.release(
                session, message.NAME, message.key(), owner, now + delay + lease_length(rt), now, started=uncounted
            )
            if crashed and store.add_crash(session, message.NAME, message.key()) >= MAX_CRASHES:
                reason = f"gave up: it ran past the time limit {MAX_CRASHES} times"
                store.fail(session, message.NAME, message.key(), reason, now)
                message.on_failure(rt, session, reason)
    except Exception as exc:  # the database is away too: the lease runs out and the sweeper resends
        log.warning("cannot keep the lease", extra={"task_name": message.NAME, "error": repr(exc)})


def retry_lost(rt: Runtime, message: Message, owner: str) -> None:
    """``owner``'s retry was never queued (the broker refused it): the item is due for the
    sweeper's next tick instead of waiting out the lease kept for that retry."""
    if not message.TRACKED:
        return
    try:
        with rt.db.transaction() as session:
            store.mark_unsent(session, [(message.NAME, message.key())], utcnow(), owner=owner)
    except Exception as exc:  # the database is away too: the kept lease runs out instead
        log.warning("cannot mark a lost retry", extra={"task_name": message.NAME, "error": repr(exc)[:300]})


def _fail(rt: Runtime, message: Message, reason: str, *, detail: str) -> None:
    now = utcnow()
    with rt.db.transaction() as session:
        if message.TRACKED:
            store.fail(session, message.NAME, message.key(), reason, now)
        message.on_failure(rt, session, reason)
    log.debug("failure detail", extra={"task_name": message.NAME, "detail": detail})


@dataclass(frozen=True)
class SweepReport:
    resent: int
    by_kind: dict[str, int]


def sweep(rt: Runtime, *, everything: bool = False) -> SweepReport:
    """Send again, once, the tracked work that was lost (see the module doc).

    ``everything``: the embedded mode at start-up; nothing else runs its work, so every queued
    item is resent whatever its age.

    With a real broker (:class:`BrokerWatch`) two more things are known. After a broker restart,
    the items it lost (no lease, no message among those it still holds) are sent again at once,
    not when their queue is next empty. And when the previous sweep is further back than a tick
    and a heartbeat (the database or beat was away), leases that ran out since then are not
    counted as crashes: a heartbeat that could not reach the database says nothing of its worker."""
    now = utcnow()
    watch = rt.dispatcher if isinstance(rt.dispatcher, BrokerWatch) and not everything else None
    look = _look(watch)
    restart = look.restart if look is not None else None
    handled = restart.run_id if restart is not None else None
    watched_until = _watched_until(rt, look, now)
    with rt.db.transaction() as session:
        if everything:
            rows = store.queued_items(session, limit=100_000)
        else:
            idle = [kind for kind, queue in _tracked_queues().items() if _idle(rt, queue)]
            rows = store.claim_stale(
                session,
                now,
                unstarted_before=now - live_lease(rt),
                idle_kinds=idle,
                limit=SWEEP_BATCH,
                watched_until=watched_until,
            )
            if restart is not None:
                lost = store.claim_lost(
                    session,
                    now,
                    held=restart.items,
                    kinds=_tracked_queues(),
                    sent_before=now - LOST_MARGIN,
                    limit=LOST_BATCH,
                )
                if lost:
                    log.warning("work lost in a broker restart sent again", extra={"resent": len(lost)})
                if len(lost) >= LOST_BATCH:
                    handled = None  # more to send: look again at the next tick
                rows = [*rows, *lost]
        messages = [decode(row.kind, row.args) for row in rows]
        for row in rows:
            row.queued_at = now
        after_commit(session, lambda: _send(rt, messages))
    if watch is not None:
        _after_sweep(watch, handled)
    by_kind: dict[str, int] = {}
    for item in messages:
        by_kind[item.NAME] = by_kind.get(item.NAME, 0) + 1
    if messages:
        log.info("lost work sent again", extra={"resent": len(messages), "kinds": by_kind})
    return SweepReport(len(messages), by_kind)


def _look(watch: BrokerWatch | None) -> BrokerLook | None:
    if watch is None:
        return None
    try:
        return watch.look()
    except Exception as exc:  # the broker is away: count crashes as ever, the next tick looks again
        log.warning("cannot look at the broker", extra={"error": repr(exc)[:300]})
        return None


def _watched_until(rt: Runtime, look: BrokerLook | None, now: datetime) -> datetime | None:
    """Leases that expired before this were watched (see :func:`sweep`); None: all of them."""
    if look is None:
        return None
    gap = timedelta(seconds=rt.settings.dispatch_interval_seconds) + live_lease(rt) / 3
    if look.last_sweep is not None and look.now - look.last_sweep <= gap.total_seconds():
        return None
    # nobody swept for longer than a tick and a heartbeat: leases that expired since the last
    # sweep may be those of live workers that could not reach the database
    if look.last_sweep is None:  # the first sweep on this broker
        return datetime.min.replace(tzinfo=now.tzinfo)
    since = now - timedelta(seconds=look.now - look.last_sweep)
    log.info("leases expired since the last sweep are not counted as crashes", extra={"since": since.isoformat()})
    return since


def _after_sweep(watch: BrokerWatch, restart_handled: str | None) -> None:
    try:
        watch.swept(restart_handled)
    except Exception as exc:  # the broker went away: the next sweep looks again
        log.warning("cannot record the sweep", extra={"error": repr(exc)[:300]})


def _tracked_queues() -> dict[str, str]:
    from worker.service.messages import REGISTRY

    return {name: kind.QUEUE for name, kind in REGISTRY.items() if kind.TRACKED}


def _idle(rt: Runtime, queue: str) -> bool:
    """True when no message of ``queue`` waits in the broker: unstarted work there is lost."""
    try:
        waiting = rt.dispatcher.backlog(queue)
    except Exception as exc:  # the broker is away: decide nothing now, the next tick will
        log.warning("cannot read the queue length", extra={"queue": queue, "error": repr(exc)})
        return False
    return waiting is not None and waiting == 0
