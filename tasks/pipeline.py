"""Celery tasks: take IDs, call the handler, let errors retry with capped back-off."""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from tasks.app import RETRY_BACKOFF_MAX, app, runtime
from worker import handlers

# Transient infrastructure errors are retried; bad input never raises out of a handler.
_RETRY = {
    "autoretry_for": (OperationalError, SoftTimeLimitExceeded),
    "retry_backoff": 5,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": 12,
}


@app.task(name="newsworker.dispatch_due_feeds", ignore_result=True)
def dispatch_due_feeds() -> dict[str, int]:
    summary = handlers.dispatch_due_feeds(runtime())
    return {"feeds": summary.feeds_enqueued, "entries": summary.entries_requeued}


@app.task(name="newsworker.poll_feed", **_RETRY)
def poll_feed(feed_id: int, ignore_cache: bool = False) -> None:
    handlers.poll_feed(runtime(), feed_id, ignore_cache=ignore_cache)


@app.task(name="newsworker.ingest_entry", **_RETRY)
def ingest_entry(entry_id: int) -> None:
    handlers.ingest_entry(runtime(), entry_id)


@app.task(name="newsworker.process_article", **_RETRY)
def process_article(article_id: int) -> None:
    handlers.process_article(runtime(), article_id)


@app.task(name="newsworker.refetch_article", **_RETRY)
def refetch_article(article_id: int) -> None:
    handlers.refetch_article(runtime(), article_id)
