"""Re-ingest: rebuild stored articles in place, in-process or through the workers (no Celery here).

A run is recorded first (every selected article becomes a pending item), then
either processed here or handed to the workers in batches; either way progress
is read back from the database. Re-ingesting never inserts an article: the row
is updated under its id, so sightings, addresses and story links survive and a
run of N articles leaves the same number of rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError

from storage import queries
from storage import reingest_runs as store
from worker.model.clock import utcnow
from worker.service import handlers, work
from worker.service.messages import PollFeed, ReingestBatch
from worker.service.runtime import Runtime

# A batch holds few articles: once page fetches run here, one slow host must not
# push a whole batch past the task's soft time limit (done items are skipped on retry).
DEFAULT_TASK_BATCH = 20


@dataclass(frozen=True)
class ReingestResult:
    article_id: int
    outcome: str  # changed | updated | unchanged | missing | failed
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


def reingest_article(rt: Runtime, article_id: int) -> ReingestResult:
    """Refetch and re-normalise one stored article in place, then re-run dedupe and story linking.

    A page that cannot be fetched keeps the stored version (feed content is
    re-normalised if that is what was stored); the item then reports the error.
    """
    result = handlers.reingest_article(rt, article_id)
    if result.outcome == "missing":
        return ReingestResult(article_id, "missing")
    if result.outcome == "changed":
        return ReingestResult(article_id, "changed")
    if result.outcome == "failed":
        return ReingestResult(article_id, "failed", result.error)
    if result.outcome == "kept":
        return ReingestResult(article_id, "unchanged", result.error)
    return ReingestResult(article_id, "unchanged")


# ---------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunPlan:
    run_id: int
    total: int
    feed_ids: tuple[int, ...]


def describe(f: queries.ArticleFilter, *, select_all: bool) -> dict[str, Any]:
    """The selectors as stored with the run (what ``reingest status`` shows)."""
    out: dict[str, Any] = {"all": True} if select_all else {}
    if f.feed_ids:
        out["feeds"] = list(f.feed_ids)
    if f.article_ids:
        out["articles"] = list(f.article_ids)
    if f.story_ids:
        out["stories"] = list(f.story_ids)
    if f.since:
        out["since"] = f.since.isoformat()
    if f.until:
        out["until"] = f.until.isoformat()
    if f.failed:
        out["failed"] = True
    return out


def plan_run(rt: Runtime, f: queries.ArticleFilter, *, select_all: bool, mode: str, refetch_feeds: bool) -> RunPlan:
    """Record a run and its pending items (keyset pages, so a million ids never sit in memory)."""
    now = utcnow()
    with rt.db.transaction() as session:
        run_id = store.create_run(
            session, selection=describe(f, select_all=select_all), mode=mode, refetch_feeds=refetch_feeds, now=now
        )
        feed_ids = tuple(queries.feeds_of_articles(session, f)) if refetch_feeds else ()
    total = 0
    try:
        with rt.db.reader() as reader:
            for page in queries.iter_article_ids(reader, f, batch_size=2000):
                with rt.db.transaction() as session:
                    total += store.add_items(session, run_id, page)
    except KeyboardInterrupt:
        _interrupt(rt, run_id, after=0, handed_over=0)  # no half-selected run is left "selecting"
        raise
    with rt.db.transaction() as session:
        store.set_status(session, run_id, "enqueuing" if mode == "celery" else "running")
    return RunPlan(run_id, total, feed_ids)


def refetch_feeds(rt: Runtime, feed_ids: Sequence[int], *, inline: bool) -> None:
    """Re-poll feeds ignoring ETag/Last-Modified; inline runs the poll here, else a poll task is sent."""
    for feed_id in feed_ids:
        if inline:
            handlers.poll_feed(rt, feed_id, ignore_cache=True)
        else:
            rt.dispatcher.send(PollFeed(feed_id, ignore_cache=True, force=True))  # not due yet


# Item outcomes are written in groups: one commit per group instead of one per article.
RECORD_EVERY = 50


def process_items(
    rt: Runtime,
    run_id: int,
    article_ids: Sequence[int],
    *,
    after_each: Callable[[ReingestResult], None] | None = None,
    between: Callable[[], object] | None = None,
    complete: bool = True,
) -> list[ReingestResult]:
    """Re-ingest the still-pending items among ``article_ids`` and record each outcome.

    Outcomes are recorded every :data:`RECORD_EVERY` articles and on the way out
    (also on Ctrl-C), so progress in the database trails by at most one group; an
    article whose outcome was lost to a crash is simply re-ingested again.
    """
    with rt.db.reader() as session:
        pending = store.pending_among(session, run_id, article_ids)
    results: list[ReingestResult] = []
    unrecorded: list[store.ItemResult] = []

    def record() -> None:
        if unrecorded:
            with rt.db.transaction() as session:
                store.finish_items(session, run_id, unrecorded, utcnow())
            unrecorded.clear()

    try:
        for article_id in article_ids:
            if article_id not in pending:
                continue
            result = reingest_article(rt, article_id)
            unrecorded.append(
                store.ItemResult(
                    article_id,
                    "failed" if result.failed else "done",
                    None if result.failed else result.outcome,
                    result.error,
                )
            )
            results.append(result)
            if after_each is not None:
                after_each(result)
            if between is not None:
                between()
            if len(unrecorded) >= RECORD_EVERY:
                record()
    finally:
        record()
    if complete:
        with rt.db.transaction() as session:
            store.complete_if_finished(session, run_id, utcnow())
    return results


@dataclass(frozen=True)
class StopReport:
    """What an interrupted run had done when it stopped."""

    handed_over: int  # items processed (inline) or enqueued (workers)
    cancelled: int


# An interrupt can land mid-write: the database may stay busy for a moment (SQLite's lock).
INTERRUPT_ATTEMPTS = 20
INTERRUPT_PAUSE = 0.25


class RunStateLost(RuntimeError):
    """The run could not be marked interrupted (the database stayed away); the message says how
    to take it over."""


def _interrupt(rt: Runtime, run_id: int, *, after: int, handed_over: int) -> StopReport:
    """Leave the run interrupted and resumable, never "running" (Ctrl-C, SIGTERM)."""
    last: BaseException | None = None
    for _ in range(INTERRUPT_ATTEMPTS):
        now = utcnow()
        try:
            with rt.db.transaction() as session:
                cancelled = store.cancel_pending(session, run_id, after=after, now=now)
                store.set_status(session, run_id, "interrupted")
                store.complete_if_finished(session, run_id, now)
            return StopReport(handed_over, cancelled)
        except (OperationalError, KeyboardInterrupt) as exc:  # busy, or a second Ctrl-C: try again
            last = exc
            time.sleep(INTERRUPT_PAUSE)
    raise RunStateLost(
        f"run {run_id} could not be marked interrupted ({last}); "
        f"`newsworker reingest resume {run_id} --force` continues it, `newsworker reingest cancel {run_id}` ends it"
    )


def run_inline(
    rt: Runtime,
    run_id: int,
    *,
    after_each: Callable[[ReingestResult], None] | None = None,
    between: Callable[[], object] | None = None,
    page_size: int = 200,
) -> StopReport | None:
    """Process every pending item here; on Ctrl-C cancel the rest and return what was done."""
    processed = 0

    def count(result: ReingestResult) -> None:
        nonlocal processed
        processed += 1
        if after_each is not None:
            after_each(result)

    last = 0
    try:
        while True:
            with rt.db.reader() as session:
                page = store.pending_article_ids(session, run_id, after=last, limit=page_size)
            if not page:
                break
            # between: embedded mode runs the follow-up work the handlers queued
            process_items(rt, run_id, page, after_each=count, between=between, complete=False)
            last = page[-1]
    except KeyboardInterrupt:
        return _interrupt(rt, run_id, after=0, handed_over=processed)
    with rt.db.transaction() as session:
        store.complete_if_finished(session, run_id, utcnow())
    return None


def enqueue_run(
    rt: Runtime,
    run_id: int,
    send: Callable[[int, list[int]], None],
    *,
    batch_size: int = DEFAULT_TASK_BATCH,
    on_batch: Callable[[int], None] | None = None,
    after: int = 0,
) -> StopReport | None:
    """Hand the pending items to the workers in batches; on Ctrl-C stop cleanly.

    Items that were not enqueued when the interrupt came are cancelled; a batch
    caught mid-publish is cancelled too, and a worker that still receives it
    skips its items (they are no longer pending).
    """
    enqueued = 0
    last = after
    try:
        while True:
            with rt.db.reader() as session:
                batch = store.pending_article_ids(session, run_id, after=last, limit=batch_size)
            if not batch:
                break
            with rt.db.transaction() as session:
                # the batch is work in flight from here on: a lost message is swept and sent again
                work.record(session, [ReingestBatch(run_id, list(batch))], now=utcnow())
            send(run_id, batch)
            last = batch[-1]
            enqueued += len(batch)
            with rt.db.transaction() as session:
                store.add_enqueued(session, run_id, len(batch))
            if on_batch is not None:
                on_batch(len(batch))
    except KeyboardInterrupt:
        return _interrupt(rt, run_id, after=last, handed_over=enqueued)
    with rt.db.transaction() as session:
        store.set_status(session, run_id, "running")
        store.complete_if_finished(session, run_id, utcnow())
    return None


def cancel(rt: Runtime, run_id: int) -> int:
    """End a run whose process is gone; its pending items are cancelled (resumable)."""
    with rt.db.transaction() as session:
        return store.cancel_run(session, run_id, now=utcnow())


def progress(rt: Runtime, run_id: int) -> store.RunProgress:
    with rt.db.reader() as session:
        return store.progress(session, run_id)
