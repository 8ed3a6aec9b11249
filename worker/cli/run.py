"""``newsworker run`` (embedded mode) and the Celery processes ``worker`` / ``beat``."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn
from sqlalchemy import func, select

from storage.models import Feed
from worker.cli.common import (
    CONTEXT_SETTINGS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Context,
    console,
    counting,
    fail,
    note,
    pass_context,
    when,
)
from worker.cli.feeds import add_feed_list, read_feed_list
from worker.logging import configure_logging
from worker.model.clock import utcnow
from worker.model.feed import PollRecord
from worker.service import events, handlers
from worker.service.messages import Message, PollFeed
from worker.service.pool import PooledDispatcher
from worker.service.runtime import Runtime, start_warm_up
from worker.settings import Settings, mask_url

log = logging.getLogger("newsworker.run")


@dataclass
class FeedNote:
    id: int
    url: str
    errors: int
    last_error: str | None
    next_poll_at: datetime | None
    status: str = "ok"


class RunDisplay:
    """What `run` shows while it works: a live rich display on a terminal, plain lines otherwise."""

    def __init__(self, stats: Counter[str], *, live: bool) -> None:
        self.stats = stats
        self.live = live
        self.passes = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def counts(self) -> str:
        s = self.stats
        return (
            f"feeds polled: {s['feeds_polled']}, articles new: {s['articles_new']}, "
            f"seen before: {s['articles_seen']}, errors: {s['errors']}"
        )

    def start_pass(self, due: int) -> None:
        self.passes += 1
        if not self.live:
            console.print(f"pass {self.passes}: {due} feed(s) due", highlight=False)
            return
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                console=console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(f"pass {self.passes}", total=max(due, 1), counts=self.counts())
        assert self._task is not None
        self._progress.update(
            self._task, description=f"pass {self.passes}", total=max(due, 1), completed=0, counts=self.counts()
        )

    def polled(self, feed: FeedNote | None, feed_id: int, outcome: str, new_entries: int) -> None:
        if self.live:
            if self._progress is not None and self._task is not None:
                self._progress.advance(self._task)
            if feed is not None and outcome not in ("ok", "not_modified"):
                self._print(f"[red]feed {feed_id}[/] {escape(feed.url)}: {escape(_error_line(feed))}")
            return
        if feed is not None and outcome not in ("ok", "not_modified"):
            console.print(f"feed {feed_id} {feed.url}: {_error_line(feed)}", highlight=False, markup=False)
        else:
            console.print(f"feed {feed_id}: {outcome}, {new_entries} new entr{'y' if new_entries == 1 else 'ies'}")

    def changed(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, counts=self.counts())

    def end_pass(self, next_at: datetime | None) -> None:
        if next_at is None:
            return
        line = f"{self.counts()}; next poll {when(next_at)}"
        if self.live and self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"pass {self.passes} done, waiting", counts=line)
        elif not self.live:
            console.print(f"pass {self.passes} done: {line}", highlight=False)

    def _print(self, markup: str) -> None:
        (self._progress.console if self._progress is not None else console).print(markup, highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _error_line(feed: FeedNote) -> str:
    if feed.status == "gone":
        return (
            f"gone ({feed.last_error or 'HTTP 410'}): not polled again; "
            f"`newsworker feeds reset {feed.id}` tries it again"
        )
    text = f"{feed.last_error or 'error'}; {feed.errors} error(s) in a row, next try {when(feed.next_poll_at)}"
    if feed.last_error and "non-public address" in feed.last_error:
        text += (
            " (newsworker fetches only public addresses: set NEWSWORKER_ALLOWED_NETWORKS to its network "
            "or NEWSWORKER_ALLOW_PRIVATE_NETWORKS=true)"
        )
    return text


def _feed_note(rt: Runtime, feed_id: int) -> FeedNote | None:
    with rt.db.reader() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return None
        return FeedNote(feed.id, feed.url, feed.consecutive_errors, feed.last_error, feed.next_poll_at, feed.status)


def _backing_off(rt: Runtime, limit: int = 20) -> tuple[list[FeedNote], int]:
    """Feeds waiting out an error back-off (not polled until their next try), soonest first."""
    now = utcnow()
    condition = (Feed.consecutive_errors > 0, Feed.status != "gone", Feed.next_poll_at > now)
    with rt.db.reader() as session:
        total = int(session.scalar(select(func.count()).select_from(Feed).where(*condition)) or 0)
        rows = session.scalars(select(Feed).where(*condition).order_by(Feed.next_poll_at, Feed.id).limit(limit))
        return [FeedNote(f.id, f.url, f.consecutive_errors, f.last_error, f.next_poll_at) for f in rows], total


def _summary(rt: Runtime, display: RunDisplay, *, interrupted: bool) -> None:
    display.stop()
    prefix = "interrupted: " if interrupted else ""
    console.print(prefix + display.counts(), highlight=False)
    waiting, total = _backing_off(rt)
    for feed in waiting:
        note(f"backing off: feed {feed.id} {feed.url}: {_error_line(feed)}")
    if total > len(waiting):
        note(f"… and {total - len(waiting)} more feed(s) backing off (`newsworker feeds list --failing`)")
    if waiting:
        note("`newsworker feeds reset ID` clears a feed's back-off so the next pass polls it")
    if display.stats["errors"]:
        note("each feed's last error: `newsworker feeds list`; its fetch log: `newsworker feeds show ID`")


@click.command("run", context_settings=CONTEXT_SETTINGS)
@click.option("--once", is_flag=True, help="One pass over the due feeds, then exit.")
@click.option(
    "--feeds",
    "feed_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="OPML file or list of feed addresses to add before polling.",
)
@pass_context
def run_command(ctx: Context, once: bool, feed_file: Path | None) -> None:
    """Poll due feeds and ingest their articles in this process (no broker needed).

    On a terminal a live display shows the pass's progress; otherwise one line per feed polled.
    A summary (and the feeds backing off after errors, with their next try) ends every run, also
    on Ctrl-C. Exit 1 when a feed failed or a listed feed was unusable, 130 on Ctrl-C.
    """
    configure_logging(ctx.settings.log_level, ctx.settings.log_format)  # events to stderr, summary to stdout
    rt, _ = ctx.runtime(auto_upgrade=True)
    # feeds and pages are fetched by a pool of NEWSWORKER_FETCH_CONCURRENCY threads; this thread writes
    dispatcher = PooledDispatcher.attach(rt)
    invalid = 0
    if feed_file is not None:
        summary = add_feed_list(rt.db, read_feed_list(feed_file), feed_file, ctx.settings)
        invalid = summary.invalid
        console.print(f"{summary.added} feed(s) added from {feed_file}", highlight=False)
    stats: Counter[str] = Counter()
    display = RunDisplay(stats, live=console.is_terminal)
    count = counting(stats)

    def on_done(message: Message, result: object) -> None:
        count(message, result)
        if isinstance(message, PollFeed) and isinstance(result, PollRecord):
            on_poll(message.feed_id, result)
        display.changed()

    def on_poll(feed_id: int, record: PollRecord) -> None:
        failed = record.outcome not in ("ok", "not_modified")
        log.debug(
            "feed polled",
            extra={
                "feed_id": feed_id,
                "outcome": record.outcome,
                "new_entries": len(record.new_entry_ids),
                "seen_entries": record.seen_entries,
            },
        )
        display.polled(_feed_note(rt, feed_id) if failed else None, feed_id, record.outcome, len(record.new_entry_ids))

    try:
        handlers.resume_embedded(rt)  # what an interrupted run left is done first
        while True:
            # a pass polls every feed due at its start, in batches of NEWSWORKER_DISPATCH_BATCH_SIZE
            pass_start = utcnow()
            display.start_pass(handlers.count_due_feeds(rt, pass_start))
            while True:
                due = handlers.dispatch_due_feeds(rt, due_by=pass_start)
                dispatcher.drain(rt, on_done)
                if not due.full:
                    break
            handlers.refine_stories(rt)  # what beat does every few minutes in a deployment
            events.relay_events(rt)  # the outbox to the Redis Stream / webhook, as beat does every 2 s
            handlers.analyze_tables(rt)  # planner statistics where PostgreSQL runs without autovacuum
            if once:
                break
            next_at, seconds = _next_poll(rt)
            display.end_pass(next_at)
            _wait_for_due_feed(rt, seconds)
    except KeyboardInterrupt:
        _summary(rt, display, interrupted=True)
        rt.close()
        sys.exit(EXIT_INTERRUPTED)
    _summary(rt, display, interrupted=False)
    rt.close()
    if stats["errors"] or invalid:
        sys.exit(EXIT_FAILED)


def _next_poll(rt: Runtime) -> tuple[datetime | None, float]:
    with rt.db.reader() as session:
        next_at = session.scalar(select(func.min(Feed.next_poll_at)).where(Feed.status != "gone"))
    if next_at is None:
        return None, rt.settings.dispatch_interval_seconds
    seconds = max(1.0, min(rt.settings.dispatch_interval_seconds, (next_at - utcnow()).total_seconds()))
    return next_at, seconds


# While waiting for the next poll, look this often for a feed made due meanwhile
# (`feeds add` / `feeds import` / `feeds reset` in another process): polled within this long.
NEW_FEED_CHECK_SECONDS = 2.0


def _wait_for_due_feed(rt: Runtime, seconds: float) -> None:
    """Sleep ``seconds`` (until the next poll is due), waking early when a feed becomes due."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(NEW_FEED_CHECK_SECONDS, left))
        with rt.db.reader() as session:
            next_at = session.scalar(select(func.min(Feed.next_poll_at)).where(Feed.status != "gone"))
        if next_at is not None and next_at <= utcnow():
            return


BROKER_RETRY_SECONDS = 5.0


def wait_for_broker(settings: Settings, retry_seconds: float = BROKER_RETRY_SECONDS) -> None:
    """Before Celery starts: if the broker does not answer, say so in one line at once and keep trying.

    Celery alone would print its banner (beat: "Starting...") and then wait silently."""
    import redis

    configure_logging(settings.log_level, settings.log_format)
    url = settings.broker_url or ""
    shown = mask_url(url)
    last_error: str | None = None
    attempts = 0
    try:
        while True:
            client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
            try:
                client.ping()
            except redis.RedisError as exc:
                attempts += 1
                error = " ".join(str(exc).split())
                if error != last_error:  # one line per new cause, not one per attempt
                    log.error(
                        f"cannot reach the broker; retrying every {retry_seconds:g} s "
                        "(check NEWSWORKER_BROKER_URL and that Redis is running)",
                        extra={"broker": shown, "error": error, "retry_seconds": retry_seconds},
                    )
                    last_error = error
                time.sleep(retry_seconds)
                continue
            finally:
                client.close()
            if attempts:
                log.info(f"the broker answers after {attempts} failed attempt(s); starting", extra={"broker": shown})
            return
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


@click.command(
    "worker",
    context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True, "allow_extra_args": True},
)
# The order is a priority (celeryconfig: queue_order_strategy "priority"): a process takes the
# first non-empty queue. Linking (process) before fetching: a stored article is linked at once
# instead of after the whole fetch backlog, and since linking is serialised in the database
# (one time window at a time), it runs alongside the fetches instead of after them (1,000-page
# fault run, 2 workers x 8 processes: 65 s instead of 94 s). Re-ingest batches come last.
@click.option("--queues", "-Q", default="poll,process,fetch,reingest", show_default=True)
@click.option("--concurrency", "-c", type=int, help="Processes (default: NEWSWORKER_WORKER_CONCURRENCY).")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_context
def worker_command(ctx: Context, queues: str, concurrency: int | None, celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker (needs NEWSWORKER_BROKER_URL); extra arguments go to celery."""
    if ctx.settings.embedded:
        fail("NEWSWORKER_BROKER_URL is not set: use `newsworker run` for the embedded mode, or set a redis:// broker")
    start_warm_up()  # joined before the pool forks (tasks.app)
    ctx.database().dispose()
    wait_for_broker(ctx.settings)
    from tasks import app

    argv = [
        "worker",
        "--queues",
        queues,
        "--concurrency",
        str(concurrency or ctx.settings.worker_concurrency),
        "--loglevel",
        ctx.settings.log_level,
        # Mingle asks every other worker for its revoked ids and waits a second for answers
        # at each start; gossip keeps every worker listening to every other's heartbeats.
        # newsworker revokes nothing (work state lives in the database), so both only delay
        # the first task after a (re)start and add broker chatter as workers are added.
        "--without-mingle",
        "--without-gossip",
        *celery_args,
    ]
    app.worker_main(argv)


@click.command(
    "beat",
    context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_context
def beat_command(ctx: Context, celery_args: tuple[str, ...]) -> None:
    """Run Celery beat, which triggers the due-feed dispatcher (run exactly one)."""
    if ctx.settings.embedded:
        fail("NEWSWORKER_BROKER_URL is not set: beat needs a redis:// broker")
    start_warm_up()  # joined before the pool forks (tasks.app)
    ctx.database().dispose()
    wait_for_broker(ctx.settings)
    from tasks import app

    app.start(["beat", "--loglevel", ctx.settings.log_level, *celery_args])


@click.command(
    "flower",
    context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_context
def flower_command(ctx: Context, celery_args: tuple[str, ...]) -> None:
    """Run Flower, the Celery monitoring UI (`pip install 'newsworker[flower]'`); needs FLOWER_BASIC_AUTH.

    Refuses to start without FLOWER_BASIC_AUTH (user:password): Flower can revoke tasks and shut
    workers down, so it is never served without a password. Extra arguments go to flower."""
    if ctx.settings.embedded:
        fail("NEWSWORKER_BROKER_URL is not set: Flower monitors Celery workers through a redis:// broker")
    if not os.environ.get("FLOWER_BASIC_AUTH", "").strip():
        fail("FLOWER_BASIC_AUTH is not set: set it to user:password (in .env for docker compose) to start Flower")
    try:
        import flower  # noqa: F401
    except ImportError:
        fail("Flower is not installed: pip install 'newsworker[flower]'")
    wait_for_broker(ctx.settings)
    from tasks import app

    app.start(["flower", *celery_args])
