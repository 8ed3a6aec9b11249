"""The service layer: one function per unit of work, shared by Celery tasks and the CLI.

Each handler takes IDs, loads its input in one short transaction, runs the pure
stages (the fetch is the only network I/O), writes the result in a second
transaction, and enqueues the next step only after that commit.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from storage import feedstate, maintenance, outbox, repo
from worker import metrics
from worker.dedupe import minhash
from worker.http.hostlimits import HostBusy
from worker.model import events
from worker.model.article import FeedHints
from worker.model.clock import utcnow
from worker.model.feed import FeedScheduleState, PollOutcome, PollRecord
from worker.model.fetch import ARTICLE_ACCEPT
from worker.model.story import RefineOutcome
from worker.model.urls import InvalidURL, host_of
from worker.normalise import articles
from worker.normalise.articles import PageOutcome
from worker.normalise.sanitize import sanitize_html
from worker.poll import polling, schedule
from worker.service import emit, work
from worker.service import stories as story_links
from worker.service.imports import ImportItem, normalise_item
from worker.service.messages import IngestEntry, PollFeed, ProcessArticle, RefetchArticle
from worker.service.runtime import Prefetched, Runtime
from worker.service.staged import Done, Fetching, Staged, complete
from worker.service.stories import StoryLink

log = logging.getLogger("newsworker.handlers")


@dataclass(frozen=True)
class DispatchSummary:
    feeds_enqueued: int
    work_resent: int  # lost work sent again by the sweeper
    articles_refetched: int
    full: bool = False  # a whole batch was sent: more may be due


def dispatch_due_feeds(rt: Runtime, *, due_by: datetime | None = None) -> DispatchSummary:
    """Beat's tick: send a poll for every due feed, the due page refetches, and the work that
    was lost (the schedule and the work in flight live in the database). At most
    ``dispatch_batch_size`` of each: ``full`` says more may be waiting. ``due_by``: only what
    was due by then (the embedded pass, which must end though feeds fall due while it runs)."""
    now = utcnow()
    lease = work.lease_length(rt)
    limit = rt.settings.dispatch_batch_size
    with rt.db.transaction() as session:
        feed_ids = repo.claim_due_feeds(session, now, limit=limit, lease=lease, due_by=due_by)
        refetch = repo.due_refetches(session, now, limit=limit, due_by=due_by)
        work.send_after_commit(
            rt, session, [*(PollFeed(i) for i in feed_ids), *(RefetchArticle(i) for i in refetch)], now=now
        )
    swept = work.sweep(rt)
    return DispatchSummary(len(feed_ids), swept.resent, len(refetch), full=limit in (len(feed_ids), len(refetch)))


def count_due_feeds(rt: Runtime, due_by: datetime) -> int:
    with rt.db.reader() as session:
        return repo.count_due_feeds(session, due_by)


def resume_embedded(rt: Runtime) -> int:
    """The embedded mode starts: take up what an interrupted run left (feeds it had leased, work
    it had recorded but not finished). Nothing else runs this database's work meanwhile."""
    with rt.db.transaction() as session:
        feedstate.release_all_leases(session)
    work.free_leases_of_gone_processes(rt)
    return work.sweep(rt, everything=True).resent


def poll_feed(rt: Runtime, feed_id: int, *, ignore_cache: bool = False, only_if_due: bool = False) -> PollRecord | None:
    """Fetch and parse one feed, record new entries, schedule the next poll.

    Returns None without fetching when another poll of the feed is running (a
    task delivered twice), when ``only_if_due`` and the feed is not due (a late
    duplicate; the Celery task sets it), or when the feed's host is being slowed
    down and has no request slot: the feed is then deferred in the database
    (the schedule lives there), not parked in the broker.
    """
    return complete(start_poll(rt, feed_id, ignore_cache=ignore_cache, only_if_due=only_if_due))


def start_poll(
    rt: Runtime, feed_id: int, *, ignore_cache: bool = False, only_if_due: bool = False
) -> Staged[PollRecord | None]:
    """:func:`poll_feed` in stages: lease the feed (database), fetch and parse (network), record."""
    token = uuid.uuid4().hex
    with rt.db.transaction() as session:
        if not feedstate.begin_poll(
            session, feed_id, token, utcnow(), lease=work.lease_length(rt), only_if_due=only_if_due
        ):
            return Done(None)
        target = repo.poll_target(session, feed_id, ignore_cache=ignore_cache)
        state = repo.schedule_state(session, feed_id)
    if target is None or state is None:
        _end_poll(rt, feed_id, token)
        return Done(None)

    def failed(exc: BaseException) -> PollRecord | None:
        if isinstance(exc, HostBusy):
            _end_poll(rt, feed_id, token, defer=timedelta(seconds=max(1.0, exc.retry_after_seconds)))
            return None
        # Soft time limit, worker shutdown, a bug: free the feed for the retry at once.
        _end_poll(rt, feed_id, token)
        raise exc

    return Fetching(
        host=host_of(target.url),
        work=lambda: polling.poll(rt.fetcher, target),
        finish=lambda outcome: _record_poll(rt, feed_id, token, state, outcome),
        fail=failed,
        abandon=lambda: _end_poll(rt, feed_id, token),
    )


def _record_poll(
    rt: Runtime, feed_id: int, token: str, state: FeedScheduleState, outcome: PollOutcome
) -> PollRecord | None:
    now = utcnow()
    decision = schedule.decide(polling.schedule_input(outcome), state, rt.schedule, now, rt.rng)
    if decision.host_slowdown_until is not None:
        # the host that answered 429/503 is the last one in the redirect chain
        rt.fetcher.slow_down(outcome.final_url or outcome.url, decision.host_slowdown_until)
    try:
        with rt.db.transaction() as session:
            record = repo.record_poll(session, _sanitised(outcome), decision, now, poll_token=token)
            outbox.add(session, [_feed_event(record, outcome)])
            work.send_after_commit(rt, session, [IngestEntry(i) for i in record.new_entry_ids], now=now)
    except OperationalError:
        _end_poll(rt, feed_id, token)  # the database is away: the task is retried
        raise
    except SQLAlchemyError as exc:
        # The database refused what the feed carried: record that as this poll's failure, so
        # the feed backs off visibly instead of being fetched again at every dispatch.
        failed = dataclasses.replace(
            outcome, kind="store_error", feed=None, error=f"cannot store the feed: {exc}"[:2000], error_reason="store"
        )
        decision = schedule.decide(polling.schedule_input(failed), state, rt.schedule, now, rt.rng)
        with rt.db.transaction() as session:
            record = repo.record_poll(session, failed, decision, now, poll_token=token)
            outbox.add(session, [_feed_event(record, failed)])
    metrics.observe_poll(record.outcome, outcome.duration_ms / 1000)
    return record


def _feed_event(record: PollRecord, outcome: PollOutcome) -> events.Event | None:
    if record.previous_status is None or record.status is None:
        return None
    return events.feed_status_changed(
        record.feed_id, record.previous_status, record.status, reason=outcome.error_reason or outcome.kind
    )


def _sanitised(outcome: PollOutcome) -> PollOutcome:
    """Entry HTML goes through the one sanitiser before it is stored (feeds carry XSS too)."""
    if outcome.feed is None:
        return outcome
    base = outcome.final_url or outcome.url
    entries = tuple(
        dataclasses.replace(e, content_html=sanitize_html(e.content_html, e.link or base)) if e.content_html else e
        for e in outcome.feed.entries
    )
    return dataclasses.replace(outcome, feed=dataclasses.replace(outcome.feed, entries=entries))


def _end_poll(rt: Runtime, feed_id: int, token: str, *, defer: timedelta | None = None) -> None:
    with rt.db.transaction() as session:
        feedstate.end_poll(session, feed_id, token, next_poll_at=utcnow() + defer if defer is not None else None)


def ingest_entry(rt: Runtime, entry_id: int) -> int | None:
    """Turn a recorded entry into a stored article (idempotent: a re-delivery changes nothing).

    An address already stored only adds a sighting; otherwise the page is
    fetched and normalised, falling back to the feed's content when it cannot be.
    """
    return complete(start_ingest(rt, entry_id))


def start_ingest(rt: Runtime, entry_id: int) -> Staged[int | None]:
    """:func:`ingest_entry` in stages: load the entry (database), fetch and normalise its page
    (network and CPU, no database), store the article in one transaction.

    The work item's lease (when this runs as a message) is taken in the first transaction and
    ended in the last one: no transactions of its own (``work.claim_in`` / ``work.finish_in``)."""
    message = IngestEntry(entry_id)
    with rt.db.transaction() as session:
        if not work.claim_in(session, message):
            return Done(None)
        entry = repo.pending_entry(session, entry_id)
        known = repo.article_for_url(session, entry.url) if entry and entry.url else None
        if entry is None:
            work.finish_in(session, message)
            return Done(None)
        if known is not None:  # an address already stored only adds a sighting: done here
            repo.add_article_urls(session, known, [entry.url or ""], utcnow())
            repo.link_entry(session, entry.entry_id, known)
            work.finish_in(session, message)
        elif not entry.url:
            repo.mark_entry_failed(session, entry.entry_id, str(InvalidURL("entry has no usable link")))
            work.finish_in(session, message)
            return Done(None)
    if known is not None:
        metrics.observe_article(created=False)
        return Done(known)
    assert entry.url is not None
    url = entry.url

    def fetch() -> PageOutcome:
        started = time.monotonic()
        page = fetch_page(
            rt, url=url, title=entry.title, feed_html=entry.content_html, hints=entry.hints, user_agent=entry.user_agent
        )
        metrics.observe_fetch("article", time.monotonic() - started)
        return page

    def failed(exc: BaseException) -> int | None:
        if isinstance(exc, InvalidURL):
            _mark_entry_failed(rt, entry.entry_id, exc)
            return None
        raise exc

    return Fetching(
        host=host_of(url), work=fetch, finish=lambda page: _store_entry(rt, entry.entry_id, url, page), fail=failed
    )


def _mark_entry_failed(rt: Runtime, entry_id: int, exc: InvalidURL) -> None:
    with rt.db.transaction() as session:
        repo.mark_entry_failed(session, entry_id, str(exc))
        work.finish_in(session, IngestEntry(entry_id))


def _store_entry(rt: Runtime, entry_id: int, url: str, page: PageOutcome) -> int:
    now = utcnow()
    retry_at = None if page.from_page or not page.retryable else now + articles.refetch_delay(1)
    with rt.db.transaction() as session:
        stored = repo.store_article(
            session,
            page.article,
            minhash.fingerprint(page.article.text),
            check=minhash.check_duplicate,
            seen_urls=[url],
            now=now,
            fetch_error=page.error,
            next_fetch_at=retry_at,
        )
        repo.link_entry(session, entry_id, stored.article_id)
        outbox.add(
            session,
            emit.stored_article(stored.article_id, created=stored.created, duplicate_of=stored.verdict.original_id),
        )
        if stored.created:
            work.send_after_commit(rt, session, [ProcessArticle(stored.article_id)], now=now)
        work.finish_in(session, IngestEntry(entry_id))
    metrics.observe_article(created=stored.created, duplicate=stored.verdict.original_id is not None)
    return stored.article_id


def fetch_page(
    rt: Runtime, *, url: str, title: str | None, feed_html: str | None, hints: FeedHints, user_agent: str | None
) -> PageOutcome:
    """Fetch and normalise an article page (no database).

    The fetch runs in the calling thread (the embedded mode's pool fetches many at once); the
    normalisation runs in ``rt.normalise_pool`` when there is one (processes), else here, one
    page at a time per process: trafilatura parses with one module-level lxml parser, which two
    threads must never use at once (the GIL would serialise most of that work anyway)."""
    ua = user_agent
    fetched = Prefetched.fetch(rt.fetcher, url, accept=ARTICLE_ACCEPT, user_agent=ua)
    if rt.normalise_pool is not None:
        normalised = rt.normalise_pool.submit(
            articles.fetch_article, fetched, url=url, title=title, feed_html=feed_html, hints=hints, user_agent=ua
        )
        return normalised.result()
    with _NORMALISING:
        return articles.fetch_article(
            fetched, url=url, title=title, feed_html=feed_html, hints=hints, user_agent=user_agent
        )


_NORMALISING = threading.Lock()


@dataclass(frozen=True)
class RefetchOutcome:
    """What a page refetch did: ``changed`` (new text stored), ``unchanged``,
    ``kept`` (the page failed; the stored version stays), ``failed`` (nothing
    usable to rebuild from; stored version kept), ``missing`` or ``skipped``."""

    outcome: str
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.outcome == "changed"


def refetch_article(
    rt: Runtime, article_id: int, *, force: bool = False, enqueue_processing: bool = True
) -> RefetchOutcome:
    """Fetch an article's page again (after a failure, or for re-ingest) and update it in place.

    The row keeps its id, addresses and sightings; a changed text records the
    previous hash and re-runs dedupe, then processing (story linking) runs again.
    """
    return complete(start_refetch(rt, article_id, force=force, enqueue_processing=enqueue_processing))


def start_refetch(
    rt: Runtime, article_id: int, *, force: bool = False, enqueue_processing: bool = True
) -> Staged[RefetchOutcome]:
    """:func:`refetch_article` in stages: load (database), fetch and normalise (no database), update."""
    with rt.db.transaction() as session:
        source = repo.refetch_source(session, article_id)
    if source is None:
        return Done(RefetchOutcome("missing"))
    if not force and source.content_source == "page":
        return Done(RefetchOutcome("skipped"))
    found = source
    return Fetching(
        host=host_of(found.url),
        work=lambda: fetch_page(
            rt,
            url=found.url,
            title=found.title,
            feed_html=found.feed_html,
            hints=found.hints,
            user_agent=found.user_agent,
        ),
        finish=lambda page: _store_refetch(rt, found, page, force=force, enqueue_processing=enqueue_processing),
    )


def _store_refetch(
    rt: Runtime, source: repo.RefetchSource, page: PageOutcome, *, force: bool, enqueue_processing: bool
) -> RefetchOutcome:
    article_id = source.article_id
    now = utcnow()
    attempts = source.fetch_attempts + 1
    # A re-ingest of an article whose text never came from its page (feed or import content) that
    # cannot reach the page keeps it as it was: it does not become "a failed page fetch" awaiting
    # retries (it never was one); the error is recorded on the article and in the run.
    page_awaited = source.content_source == "failed" or not force
    if not page.article.text:
        return RefetchOutcome("failed", f"re-normalised text is empty ({page.error}); the stored version was kept")
    if page.from_page or not page.retryable:
        retry_at = None
    elif attempts >= articles.MAX_PAGE_ATTEMPTS and not force:
        retry_at = None  # given up on the page; the feed's content stays, listed by `reingest --failed`
    else:
        retry_at = now + articles.refetch_delay(attempts)
    with rt.db.transaction() as session:
        before = repo.article_version(session, article_id)
        changed = repo.update_article(
            session,
            article_id,
            page.article,
            minhash.fingerprint(page.article.text),
            check=minhash.check_duplicate,
            fetch_error=page.error,
            attempts=attempts,
            next_fetch_at=retry_at if page_awaited else None,
            now=now,
            page_awaited=page_awaited,
        )
        if changed:
            after = repo.article_version(session, article_id)
            outbox.add(session, emit.updated_article(article_id, before=before, after=after))
        if changed and enqueue_processing:
            work.send_after_commit(rt, session, [ProcessArticle(article_id)], now=now)
    if changed:
        return RefetchOutcome("changed", page.error)
    return RefetchOutcome("unchanged" if page.from_page else "kept", page.error)


def reingest_article(rt: Runtime, article_id: int) -> RefetchOutcome:
    """Re-ingest: refetch and re-normalise in place, then re-run dedupe and story linking."""
    result = refetch_article(rt, article_id, force=True, enqueue_processing=False)
    if result.outcome != "missing":
        process_article(rt, article_id)
    return result


def process_article(rt: Runtime, article_id: int) -> StoryLink:
    """Link the article into a story (dedupe ran when it was stored). Safe to run again.

    Run as a message, the work item's lease is taken and ended in the linking transaction itself
    where the message allows it (``ProcessArticle.LEASE_IN_HANDLER``)."""
    message = ProcessArticle(article_id)

    def step() -> StoryLink:
        with rt.db.transaction() as session:
            if not work.claim_in(session, message):
                return StoryLink(None, via="held")
            link = story_links.link_story(session, article_id, processed_at=utcnow())
            outbox.add(session, emit.linked(article_id, link))
            work.finish_in(session, message)
        return link

    link = story_links.retry_on_conflict(step, what=f"article {article_id}")
    if link.created:
        metrics.observe_story(created=True)
    for old_id in link.merged:
        log.info("stories merged", extra={"old_story_id": old_id, "story_id": link.story_id})
    return link


def refine_stories(
    rt: Runtime,
    *,
    limit: int | None = None,
    progress: Callable[[RefineOutcome], None] | None = None,
    every_changed: bool = False,
) -> story_links.RefineReport:
    """Regroup the stories changed since the last pass (beat runs this; so does the CLI).

    The online link is final for nothing: this pass may move an article to another story,
    split a story, or fold one into another (recorded, ids kept resolvable). One pass starts
    from at most ``limit`` (the batch-size setting) changed stories; ``every_changed``: passes
    until none is left (``stories refine`` after a large import)."""
    batch = limit or rt.settings.story_refine_batch_size
    if every_changed:
        report = story_links.refine_every_changed_story(rt.db.transaction, batch=batch, now=utcnow(), progress=progress)
    else:
        report = story_links.refine_stories(rt.db.transaction, limit=batch, now=utcnow(), progress=progress)
    for old_id, new_id in report.stories_merged:
        log.info("stories merged", extra={"old_story_id": old_id, "story_id": new_id})
    if report.regrouped or report.conflicts:
        log.info(
            "stories refined",
            extra={
                "regrouped": report.regrouped,
                "articles_moved": report.articles_moved,
                "stories_created": report.stories_created,
                "conflicts": report.conflicts,
            },
        )
    return report


def prune_story_state(rt: Runtime) -> tuple[int, int]:
    """Daily: drop story vectors and rare sentence counts older than the retention."""
    vectors, sentences = story_links.prune_story_state(rt.db.transaction, now=utcnow())
    log.info("story state pruned", extra={"vectors": vectors, "sentences": sentences})
    return vectors, sentences


# Autovacuum's defaults (autovacuum_analyze_threshold / autovacuum_analyze_scale_factor).
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE = 0.1


def analyze_tables(rt: Runtime) -> list[str]:
    """Beat, every minute: ANALYZE the tables that changed enough, only when the PostgreSQL
    server runs without autovacuum (see storage.maintenance); nothing otherwise."""
    if rt.db.dialect != "postgresql":
        return []
    with rt.db.transaction() as session:
        conn = session.connection()
        if not maintenance.autovacuum_is_off(conn):
            return []
        due = maintenance.tables_needing_analyze(conn, threshold=ANALYZE_THRESHOLD, scale=ANALYZE_SCALE)
        for table in due:
            maintenance.analyze(conn, table)
    if due:
        log.info("tables analyzed (the server's autovacuum is off)", extra={"tables": due})
    return due


def import_item(
    rt: Runtime, item: ImportItem, *, default_source: str, warn: Callable[[str], None] | None = None
) -> repo.StoredArticle:
    """Store a pre-fetched article through the same normalise/store/process path as polled ones.

    ``warn``: told when the line is stored but says less than it seemed to (a page with no text)."""
    article = normalise_item(item)
    if warn is not None and not article.text.strip():
        warn(f"no text could be extracted (page kind: {article.page_kind or 'empty'}); stored with its title and date")
    now = utcnow()
    with rt.db.transaction() as session:
        stored = repo.store_article(
            session,
            article,
            minhash.fingerprint(article.text),
            check=minhash.check_duplicate,
            seen_urls=[item.url],
            now=now,
        )
        repo.record_import_sighting(
            session, source=item.source or default_source, url=item.url, article_id=stored.article_id, now=now
        )
        outbox.add(
            session,
            emit.stored_article(stored.article_id, created=stored.created, duplicate_of=stored.verdict.original_id),
        )
        if stored.created:
            work.send_after_commit(rt, session, [ProcessArticle(stored.article_id)], now=now)
    return stored
