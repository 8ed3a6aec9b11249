"""Celery tasks: take IDs, call the handler, let errors retry with capped back-off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from tasks.app import RETRY_BACKOFF_MAX, app, runtime
from worker import metrics
from worker.http.hostlimits import HostBusy
from worker.model.feed import PollRecord
from worker.service import handlers

# Transient infrastructure errors are retried; bad input never raises out of a handler.
_RETRY = {
    "autoretry_for": (OperationalError, SoftTimeLimitExceeded),
    "retry_backoff": 5,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": 12,
}


@contextmanager
def _retry_when_host_busy(task: Task) -> Iterator[None]:
    """A host at its limit: come back when it has room (never longer than the visibility timeout)."""
    try:
        yield
    except HostBusy as busy:
        metrics.observe_throttled(busy.host, busy.reason)
        countdown = min(RETRY_BACKOFF_MAX, max(1.0, busy.retry_after_seconds))
        raise task.retry(countdown=countdown, max_retries=None) from None


@app.task(name="newsworker.dispatch_due_feeds", ignore_result=True)
def dispatch_due_feeds() -> dict[str, int]:
    summary = handlers.dispatch_due_feeds(runtime())
    return {"feeds": summary.feeds_enqueued, "entries": summary.entries_requeued}


@app.task(name="newsworker.poll_feed", bind=True, **_RETRY)
def poll_feed(self: Task, feed_id: int, ignore_cache: bool = False, force: bool = False) -> PollRecord | None:
    # Only a due feed is polled: a duplicate delivered after the poll finished does nothing
    # (one running concurrently finds the poll lease taken). A busy host defers the feed in
    # the database instead of raising HostBusy.
    with _retry_when_host_busy(self):
        return handlers.poll_feed(runtime(), feed_id, ignore_cache=ignore_cache, only_if_due=not force)


@app.task(name="newsworker.ingest_entry", bind=True, **_RETRY)
def ingest_entry(self: Task, entry_id: int) -> int | None:
    with _retry_when_host_busy(self):
        return handlers.ingest_entry(runtime(), entry_id)


@app.task(name="newsworker.process_article", **_RETRY)
def process_article(article_id: int) -> None:
    handlers.process_article(runtime(), article_id)


@app.task(name="newsworker.refetch_article", bind=True, **_RETRY)
def refetch_article(self: Task, article_id: int) -> None:
    with _retry_when_host_busy(self):
        handlers.refetch_article(runtime(), article_id)


@app.task(name="newsworker.refine_stories", ignore_result=True, autoretry_for=(OperationalError,), max_retries=3)
def refine_stories() -> dict[str, int]:
    report = handlers.refine_stories(runtime())
    return {"regrouped": report.regrouped, "moved": report.articles_moved, "conflicts": report.conflicts}


@app.task(name="newsworker.prune_story_state", ignore_result=True, autoretry_for=(OperationalError,), max_retries=3)
def prune_story_state() -> dict[str, int]:
    vectors, sentences = handlers.prune_story_state(runtime())
    return {"vectors": vectors, "sentences": sentences}
