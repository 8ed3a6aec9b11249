"""What one process holds: settings, the database, one HTTP fetcher, a dispatcher.

Built once at start-up (a worker process, a CLI command), never at import time.
The dispatcher decides how follow-up work runs: through Celery queues when a
broker is configured, or in this process (embedded mode).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from storage.db import Database
from worker.fetch import Fetcher, FetchPolicy
from worker.schedule import SchedulePolicy
from worker.settings import Settings

# Task names are the contract between producers and the Celery app.
POLL_FEED = "newsworker.poll_feed"
INGEST_ENTRY = "newsworker.ingest_entry"
PROCESS_ARTICLE = "newsworker.process_article"
REFETCH_ARTICLE = "newsworker.refetch_article"
DISPATCH_DUE_FEEDS = "newsworker.dispatch_due_feeds"

QUEUE_OF = {
    POLL_FEED: "poll",
    INGEST_ENTRY: "fetch",
    REFETCH_ARTICLE: "fetch",
    PROCESS_ARTICLE: "process",
    DISPATCH_DUE_FEEDS: "poll",
}


class Dispatcher(Protocol):
    def send(self, task: str, *args: object) -> None: ...


@dataclass
class LocalDispatcher:
    """Embedded mode: follow-up work waits in this process's queue until ``drain`` runs it."""

    pending: deque[tuple[str, tuple[object, ...]]] = field(default_factory=deque)

    def send(self, task: str, *args: object) -> None:
        self.pending.append((task, args))

    def drain(self, handlers: dict[str, Callable[..., object]]) -> int:
        done = 0
        while self.pending:
            task, args = self.pending.popleft()
            handlers[task](*args)
            done += 1
        return done


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allow_private_networks=settings.allow_private_networks,
        max_body_bytes=settings.max_body_bytes,
        deadline_seconds=settings.fetch_deadline_seconds,
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        user_agent=settings.user_agent,
    )


def schedule_policy(settings: Settings) -> SchedulePolicy:
    return SchedulePolicy(
        min_interval_seconds=settings.poll_min_interval_seconds,
        max_interval_seconds=settings.poll_max_interval_seconds,
        error_backoff_max_seconds=settings.error_backoff_max_seconds,
        failing_after_seconds=settings.failing_after_seconds,
    )


@dataclass
class Runtime:
    settings: Settings
    db: Database
    fetcher: Fetcher
    dispatcher: Dispatcher
    schedule: SchedulePolicy
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(cls, settings: Settings, dispatcher: Dispatcher) -> Runtime:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            fetcher=Fetcher(fetch_policy(settings)),
            dispatcher=dispatcher,
            schedule=schedule_policy(settings),
        )

    def close(self) -> None:
        self.fetcher.close()
        self.db.dispose()
