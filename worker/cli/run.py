"""``newsworker run`` (embedded mode) and the Celery processes ``worker`` / ``beat``."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import click
from sqlalchemy import func, select

from storage.models import Feed
from worker.cli.common import (
    CONTEXT_SETTINGS,
    Context,
    console,
    counting,
    fail,
    interruptible,
    note,
    pass_context,
)
from worker.cli.feeds import add_feed_list, read_feed_list
from worker.logging import configure_logging
from worker.model.clock import utcnow
from worker.service import events, handlers
from worker.service.runtime import Runtime


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
    """Poll due feeds and ingest their articles in this process (no broker needed)."""
    configure_logging(ctx.settings.log_level, ctx.settings.log_format)  # events to stderr, summary to stdout
    rt, dispatcher = ctx.runtime(auto_upgrade=True)
    if feed_file is not None:
        summary = add_feed_list(rt.db, read_feed_list(feed_file), feed_file)
        console.print(f"{summary.added} feed(s) added from {feed_file}")
    stats: Counter[str] = Counter()
    observe = counting(stats)
    with interruptible():
        handlers.resume_embedded(rt)  # what an interrupted run left is done first
        while True:
            handlers.dispatch_due_feeds(rt)
            dispatcher.drain(rt, observe)
            handlers.refine_stories(rt)  # what beat does every few minutes in a deployment
            events.relay_events(rt)  # the outbox to the Redis Stream / webhook, as beat does every 2 s
            if once:
                break
            time.sleep(_seconds_until_next_poll(rt))
    console.print(
        f"feeds polled: {stats['feeds_polled']}, articles new: {stats['articles_new']}, "
        f"seen before: {stats['articles_seen']}, errors: {stats['errors']}"
    )
    if stats["errors"]:
        note("each feed's last error: `newsworker feeds list`; its fetch log: `newsworker feeds show ID`")
    rt.close()


def _seconds_until_next_poll(rt: Runtime) -> float:
    with rt.db.reader() as session:
        next_at = session.scalar(select(func.min(Feed.next_poll_at)).where(Feed.status != "gone"))
    if next_at is None:
        return rt.settings.dispatch_interval_seconds
    return max(1.0, min(rt.settings.dispatch_interval_seconds, (next_at - utcnow()).total_seconds()))


@click.command(
    "worker",
    context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True, "allow_extra_args": True},
)
@click.option("--queues", "-Q", default="poll,fetch,process,reingest", show_default=True)
@click.option("--concurrency", "-c", type=int, help="Processes (default: NEWSWORKER_WORKER_CONCURRENCY).")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_context
def worker_command(ctx: Context, queues: str, concurrency: int | None, celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker (needs NEWSWORKER_BROKER_URL); extra arguments go to celery."""
    if ctx.settings.embedded:
        fail("NEWSWORKER_BROKER_URL is not set: use `newsworker run` for the embedded mode, or set a redis:// broker")
    ctx.database().dispose()
    from tasks import app

    argv = [
        "worker",
        "--queues",
        queues,
        "--concurrency",
        str(concurrency or ctx.settings.worker_concurrency),
        "--loglevel",
        ctx.settings.log_level,
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
    ctx.database().dispose()
    from tasks import app

    app.start(["beat", "--loglevel", ctx.settings.log_level, *celery_args])
