"""The task registry: every unit of work newsworker sends, declared once.

Each message is a frozen dataclass whose fields are the task's arguments, in the order they
travel (positional, JSON), with its Celery name, queue, retry policy and handler next to them.
Everything that sends or runs work reads this module: the service layer sends typed messages
(``rt.dispatcher.send(IngestEntry(entry_id))``), ``tasks/`` builds one Celery task per message,
Celery routes by it (:func:`route`), the embedded mode's :class:`LocalDispatcher` runs
messages in process, and tests drain through it.

Names are the wire contract: messages already queued under a name must still run after an
upgrade, so a name or the order of a message's fields never changes (add fields at the end,
with defaults).

This module imports only the standard library at import time (``celeryconfig`` reads it);
handlers are imported when a message runs.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from worker.service.owners import embedded_owner

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.service.runtime import Runtime
    from worker.service.staged import Done, Fetching

# The longest retry delay (a host's long slow-down). The broker's visibility timeout must stay
# above it, or Redis redelivers a message that is only waiting for its retry.
RETRY_BACKOFF_MAX = 1800
# The longest back-off after a transient failure: once the database or Redis is back after an
# outage of any length, every waiting retry runs within this (it was 30 min: after a long outage
# work sat idle that long). A task that uses up its retries fails; its lease runs out and the
# sweeper sends it again, so retrying more often gives nothing up.
TRANSIENT_BACKOFF_MAX = 60


@dataclass(frozen=True)
class RetryPolicy:
    """How a message's task is retried.

    ``transient``: retried with capped exponential back-off on transient failures (database or
    broker connection lost, lock or serialisation conflicts, a story changed under us, the soft
    time limit); data errors are never raised out of a handler, they are recorded on the item.
    ``host_busy``: a host at its per-host limit defers the task until it has room (up to
    ``RETRY_BACKOFF_MAX``, however long the transient back-off is).
    """

    transient: bool = True
    max_retries: int | None = 12
    backoff: int = 5
    backoff_max: int = TRANSIENT_BACKOFF_MAX
    host_busy: bool = False

    def countdown(self, retries: int, rng: random.Random | None = None) -> int:
        """Seconds before retry number ``retries + 1``: capped exponential back-off with full
        jitter (what Celery's ``retry_backoff``/``retry_jitter`` compute). Chosen before the
        attempt runs, so that the item's lease covers this very wait and not the longest one."""
        ceiling = min(self.backoff_max, self.backoff * 2 ** min(max(retries, 0), 32))
        return rng.randrange(ceiling + 1) if rng is not None else random.randrange(ceiling + 1)


PIPELINE = RetryPolicy()
PIPELINE_FETCHING = RetryPolicy(host_busy=True)
# Periodic passes: the next beat tick runs them again anyway.
PERIODIC = RetryPolicy(max_retries=3)
NEVER = RetryPolicy(transient=False, max_retries=0)


@dataclass(frozen=True)
class Message:
    """One unit of work. Subclasses declare NAME, QUEUE, RETRY and ``handle``."""

    NAME: ClassVar[str]
    QUEUE: ClassVar[str]
    RETRY: ClassVar[RetryPolicy] = PIPELINE
    PRIORITY: ClassVar[int | None] = None  # Redis transport: 0 highest, 9 lowest
    # Beat's messages: a copy still queued after this many seconds is dropped (the next tick sends anew).
    PERIODIC: ClassVar[bool] = False
    # Tracked work has a row in ``work_items`` from the transaction that created it until it is
    # done: leased while it runs, sent again by the sweeper when its worker died or its message
    # was lost (worker/service/work.py). Feed polls keep their own lease on the feed row.
    TRACKED: ClassVar[bool] = False
    # Tracked work whose handler takes its item's lease in its own first transaction and ends the
    # item in its last (``work.claim_in`` / ``work.finish_in``), so the lease costs no commits of
    # its own. "before_work": the first transaction commits before the long part (the fetch), so
    # the claim guards that part as a separate one would. "with_work": claim, work and end are one
    # transaction; a worker killed inside it leaves no claim behind, so the claim is folded only
    # where no heartbeat guards a live lease (the embedded mode); Celery claims first.
    LEASE_IN_HANDLER: ClassVar[str] = ""
    # (soft, hard) seconds, for work longer than the pipeline's limits (settings) allow.
    TIME_LIMITS: ClassVar[tuple[int, int] | None] = None

    def args(self) -> list[Any]:
        """The positional arguments on the wire."""
        return [getattr(self, f.name) for f in fields(self)]

    def handle(self, rt: Runtime) -> object:  # pragma: no cover - every message overrides it
        raise NotImplementedError

    def key(self) -> str:
        """The item's identity in ``work_items`` (one outstanding unit per key)."""
        values = self.args()
        if len(values) == 1 and isinstance(values[0], int):
            return str(values[0])
        digest = hashlib.sha1(json.dumps(values, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        return digest[:40]

    def on_failure(self, rt: Runtime, session: Session, reason: str) -> None:
        """Record on the item itself that it failed for good (the work row records it too)."""

    def start(self, rt: Runtime) -> Done[object] | Fetching[object]:
        """The message's work in stages (see :mod:`worker.service.staged`): messages that fetch
        return a :class:`Fetching` step; the rest run whole here."""
        from worker.service.staged import Done

        return Done(self.handle(rt))

    def subject(self) -> dict[str, Any]:
        """The ids this message is about, for logs (``{"feed_id": 3}``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.endswith("_id")}


REGISTRY: dict[str, type[Message]] = {}


def message(cls: type[Message]) -> type[Message]:
    """Register a message type under its name (each name once)."""
    if cls.NAME in REGISTRY:
        raise ValueError(f"two messages are called {cls.NAME}")
    REGISTRY[cls.NAME] = cls
    return cls


def decode(name: str, args: Iterable[Any] = (), kwargs: dict[str, Any] | None = None) -> Message:
    """The message a task name and its wire arguments stand for."""
    return REGISTRY[name](*args, **(kwargs or {}))


def route(name: str, *_: Any, **__: Any) -> dict[str, str] | None:
    """Celery router (``celeryconfig.task_routes``): each registered task to its queue."""
    cls = REGISTRY.get(name)
    return {"queue": cls.QUEUE} if cls is not None else None


def queues() -> list[str]:
    return sorted({cls.QUEUE for cls in REGISTRY.values()})


# ------------------------------------------------------------------ the messages


@message
@dataclass(frozen=True)
class DispatchDueFeeds(Message):
    """Beat's tick: send the due polls and re-send work whose lease expired."""

    NAME: ClassVar[str] = "newsworker.dispatch_due_feeds"
    QUEUE: ClassVar[str] = "poll"
    RETRY: ClassVar[RetryPolicy] = NEVER
    PERIODIC: ClassVar[bool] = True

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.dispatch_due_feeds(rt)


@message
@dataclass(frozen=True)
class PollFeed(Message):
    """Fetch and parse one feed; ``force`` polls it even when it is not due."""

    NAME: ClassVar[str] = "newsworker.poll_feed"
    QUEUE: ClassVar[str] = "poll"
    RETRY: ClassVar[RetryPolicy] = PIPELINE_FETCHING

    feed_id: int
    ignore_cache: bool = False
    force: bool = False

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.poll_feed(rt, self.feed_id, ignore_cache=self.ignore_cache, only_if_due=not self.force)

    def start(self, rt: Runtime) -> Done[object] | Fetching[object]:
        from worker.service import handlers

        return handlers.start_poll(rt, self.feed_id, ignore_cache=self.ignore_cache, only_if_due=not self.force)


@message
@dataclass(frozen=True)
class IngestEntry(Message):
    """Turn a recorded feed entry into a stored (deduplicated) article."""

    NAME: ClassVar[str] = "newsworker.ingest_entry"
    QUEUE: ClassVar[str] = "fetch"
    TRACKED: ClassVar[bool] = True
    LEASE_IN_HANDLER: ClassVar[str] = "before_work"
    RETRY: ClassVar[RetryPolicy] = PIPELINE_FETCHING

    entry_id: int

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.ingest_entry(rt, self.entry_id)

    def on_failure(self, rt: Runtime, session: Session, reason: str) -> None:
        from storage import repo

        repo.mark_entry_failed(session, self.entry_id, reason)

    def start(self, rt: Runtime) -> Done[object] | Fetching[object]:
        from worker.service import handlers

        return handlers.start_ingest(rt, self.entry_id)


@message
@dataclass(frozen=True)
class ProcessArticle(Message):
    """Link a stored article into a story."""

    NAME: ClassVar[str] = "newsworker.process_article"
    QUEUE: ClassVar[str] = "process"
    TRACKED: ClassVar[bool] = True
    LEASE_IN_HANDLER: ClassVar[str] = "with_work"

    article_id: int

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.process_article(rt, self.article_id)


@message
@dataclass(frozen=True)
class RefetchArticle(Message):
    """Fetch an article's page again (after a failed fetch) and update it in place."""

    NAME: ClassVar[str] = "newsworker.refetch_article"
    QUEUE: ClassVar[str] = "fetch"
    TRACKED: ClassVar[bool] = True
    RETRY: ClassVar[RetryPolicy] = PIPELINE_FETCHING

    article_id: int

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.refetch_article(rt, self.article_id)

    def start(self, rt: Runtime) -> Done[object] | Fetching[object]:
        from worker.service import handlers

        return handlers.start_refetch(rt, self.article_id)


@message
@dataclass(frozen=True)
class RefineStories(Message):
    """Beat: regroup the stories changed since the last pass."""

    NAME: ClassVar[str] = "newsworker.refine_stories"
    QUEUE: ClassVar[str] = "process"
    RETRY: ClassVar[RetryPolicy] = PERIODIC
    PERIODIC: ClassVar[bool] = True
    # a pass over many stories (or a daily full scan) outlasts a pipeline task's limits
    TIME_LIMITS: ClassVar[tuple[int, int] | None] = (900, 1200)

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.refine_stories(rt)


@message
@dataclass(frozen=True)
class PruneStoryState(Message):
    """Beat, daily: drop story vectors and rare sentence counts past their retention."""

    NAME: ClassVar[str] = "newsworker.prune_story_state"
    QUEUE: ClassVar[str] = "process"
    RETRY: ClassVar[RetryPolicy] = PERIODIC
    PERIODIC: ClassVar[bool] = True
    # a pass over many stories (or a daily full scan) outlasts a pipeline task's limits
    TIME_LIMITS: ClassVar[tuple[int, int] | None] = (900, 1200)

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.prune_story_state(rt)


@message
@dataclass(frozen=True)
class AnalyzeTables(Message):
    """Beat, every minute: planner statistics of newsworker's tables where the PostgreSQL server
    runs without autovacuum (a no-op where it runs, and on SQLite)."""

    NAME: ClassVar[str] = "newsworker.analyze_tables"
    QUEUE: ClassVar[str] = "poll"  # short, and not behind a burst of CPU-heavy processing
    RETRY: ClassVar[RetryPolicy] = NEVER  # the next tick analyzes anyway
    PERIODIC: ClassVar[bool] = True

    def handle(self, rt: Runtime) -> object:
        from worker.service import handlers

        return handlers.analyze_tables(rt)


@message
@dataclass(frozen=True)
class RelayEvents(Message):
    """Beat, every few seconds: publish the outbox's unpublished events to the Redis Stream
    (and the webhook), prune old published ones. Concurrent relays are safe (see storage.outbox)."""

    NAME: ClassVar[str] = "newsworker.relay_events"
    QUEUE: ClassVar[str] = "poll"  # I/O only, and not behind a burst of CPU-heavy processing
    RETRY: ClassVar[RetryPolicy] = NEVER  # the next tick relays anyway
    PRIORITY: ClassVar[int | None] = 0
    PERIODIC: ClassVar[bool] = True

    def handle(self, rt: Runtime) -> object:
        from worker.service import events

        return events.relay_events(rt)


@message
@dataclass(frozen=True)
class ReingestBatch(Message):
    """A batch of one re-ingest run's articles, on its own low-priority queue so that scheduled
    polling goes on while a large run drains. Items already done are skipped: a retry only does
    the rest."""

    NAME: ClassVar[str] = "newsworker.reingest_batch"
    QUEUE: ClassVar[str] = "reingest"
    TRACKED: ClassVar[bool] = True
    PRIORITY: ClassVar[int | None] = 9

    run_id: int
    article_ids: list[int] = field(default_factory=list)

    def handle(self, rt: Runtime) -> object:
        from worker.service import reingest

        return reingest.process_items(rt, self.run_id, self.article_ids)


# ------------------------------------------------------------------ running messages in process


def _let_go(rt: Runtime, message: Message, owner: str) -> None:
    import logging

    from worker.service import work

    try:
        work.let_go(rt, [message], owner)
    except Exception as exc:  # the database is what failed: the lease runs out on its own
        logging.getLogger("newsworker.work").warning("cannot free the lease", extra={"error": repr(exc)[:300]})


@dataclass
class LocalDispatcher:
    """Embedded mode: follow-up work waits in this process's queue until ``drain`` runs it."""

    pending: deque[Message] = field(default_factory=deque)
    owner: str = field(default_factory=lambda: embedded_owner("local"))

    def send(self, message: Message) -> None:
        self.pending.append(message)

    def drain(self, rt: Runtime, on_done: Callable[[Message, object], None] | None = None) -> int:
        """Run every pending message (and what they send) through its handler; returns how many."""
        from worker.service import work

        done = 0
        while self.pending:
            item = self.pending.popleft()
            try:
                result = work.run(rt, item, owner=self.owner)
            except BaseException:
                # Ctrl-C (or an error out of the handler): nothing in this process will finish
                # the item, so free its lease for the next run, which takes it up at once.
                _let_go(rt, item, self.owner)
                raise
            if on_done is not None:
                on_done(item, result)
            done += 1
        return done

    def sent(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.pending if isinstance(m, kind)]

    def backlog(self, queue: str) -> int | None:
        """Messages of ``queue`` waiting here (the sweeper re-sends lost work only from idle queues)."""
        return sum(1 for m in self.pending if queue == m.QUEUE)
