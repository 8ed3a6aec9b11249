"""The ``newsworker`` command: the same handlers the Celery tasks call.

Exit codes: 0 success, 1 the work ran but something failed (bad import lines,
failed polls), 2 the command could not run (bad settings, unknown id, schema
missing), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError as DBOperationalError

from storage import repo
from storage.db import Database
from storage.models import Feed
from storage.schema import SchemaOutOfDate, current_revision, ensure_current, head_revision, upgrade
from worker import handlers
from worker.clock import utcnow
from worker.imports import ImportLineError, parse_import_line
from worker.opml import FeedListError, FeedSpec, parse_feed_list
from worker.runtime import INGEST_ENTRY, POLL_FEED, PROCESS_ARTICLE, REFETCH_ARTICLE, LocalDispatcher, Runtime
from worker.settings import Settings, SettingsError, load_settings
from worker.urls import InvalidURL

console = Console()
err_console = Console(stderr=True)

EXIT_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


@dataclass
class Context:
    settings: Settings

    def database(self, *, auto_upgrade: bool = False) -> Database:
        db = Database(self.settings.database_url)
        try:
            if auto_upgrade and self.settings.database_url.startswith("sqlite"):
                upgrade(db.engine, db.url)
            ensure_current(db.engine)
        except SchemaOutOfDate as exc:
            fail(str(exc))
        except DBOperationalError as exc:
            fail(f"cannot open the database {self.settings.masked()['database_url']}: {exc.orig}")
        return db

    def runtime(self, *, auto_upgrade: bool = False) -> tuple[Runtime, LocalDispatcher]:
        dispatcher = LocalDispatcher()
        db = self.database(auto_upgrade=auto_upgrade)
        db.dispose()
        return Runtime.build(self.settings, dispatcher), dispatcher


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsworker")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """newsworker: poll news feeds, normalise, deduplicate and link articles."""
    try:
        ctx.obj = Context(load_settings())
    except SettingsError as exc:
        fail(str(exc))


# ------------------------------------------------------------------ config & db


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def config_command(ctx: Context, as_json: bool) -> None:
    """Print the effective settings (secrets masked)."""
    values = ctx.settings.masked()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "value", title="effective settings")
    for key, value in values.items():
        table.add_row(f"NEWSWORKER_{key.upper()}", "" if value is None else str(value))
    console.print(table)


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Create the schema or migrate it to the latest revision."""
    db = Database(ctx.settings.database_url)
    try:
        before, after = upgrade(db.engine, db.url, revision)
    except DBOperationalError as exc:
        fail(f"cannot open the database {ctx.settings.masked()['database_url']}: {exc.orig}")
    console.print(f"database at revision {after} (was {before or 'empty'})")


@db_group.command("current")
@pass_context
def db_current(ctx: Context) -> None:
    """Show the schema revision of the database and of the code."""
    db = Database(ctx.settings.database_url)
    console.print(f"database: {current_revision(db.engine) or 'empty'}; code: {head_revision()}")


# ------------------------------------------------------------------ feeds


@cli.group("feeds")
def feeds_group() -> None:
    """Add, list and remove feeds."""


@feeds_group.command("add")
@click.argument("url")
@click.option("--title", help="Title to show until the feed supplies its own.")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@pass_context
def feeds_add(ctx: Context, url: str, title: str | None, tags: tuple[str, ...]) -> None:
    """Add a feed by its address."""
    db = ctx.database()
    try:
        with db.transaction() as session:
            feed, created = repo.add_feed(session, url, title=title, tags=tags)
            feed_id = feed.id
    except InvalidURL as exc:
        fail(str(exc))
    console.print(f"{'added' if created else 'already present'}: feed {feed_id} {feed.url}", highlight=False)


def _feed_rows(db: Database, failing_only: bool) -> list[dict[str, Any]]:
    with db.reader() as session:
        return [
            {
                "id": f.id,
                "url": f.url,
                "title": f.title,
                "status": f.status,
                "next_poll_at": f.next_poll_at.isoformat() if f.next_poll_at else None,
                "last_success_at": f.last_success_at.isoformat() if f.last_success_at else None,
                "consecutive_errors": f.consecutive_errors,
                "last_error": f.last_error,
                "tags": list(f.tags or []),
            }
            for f in repo.list_feeds(session, failing_only=failing_only)
        ]


@feeds_group.command("list")
@click.option("--failing", is_flag=True, help="Only feeds marked failing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@pass_context
def feeds_list(ctx: Context, failing: bool, as_json: bool) -> None:
    """List feeds with their state."""
    rows = _feed_rows(ctx.database(), failing)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    table = Table("id", "status", "title", "url", "next poll", "errors", "last error")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["status"],
            row["title"] or "",
            row["url"],
            (row["next_poll_at"] or "")[:19],
            str(row["consecutive_errors"]),
            (row["last_error"] or "")[:60],
        )
    console.print(table)
    console.print(f"{len(rows)} feed(s)")


@feeds_group.command("remove")
@click.argument("feed")
@pass_context
def feeds_remove(ctx: Context, feed: str) -> None:
    """Remove a feed by id or address (its articles stay)."""
    db = ctx.database()
    try:
        with db.transaction() as session:
            removed = repo.remove_feed(session, feed)
            label = f"{removed.id} {removed.url}"
    except repo.NotFound as exc:
        fail(str(exc))
    console.print(f"removed feed {label}", highlight=False)


# ------------------------------------------------------------------ import / export


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Source name for lines without one (default: the file name).")
@pass_context
def import_command(ctx: Context, file: Path, source: str | None) -> None:
    """Ingest pre-fetched articles from a JSON-lines file, in file order."""
    rt, dispatcher = ctx.runtime(auto_upgrade=True)
    default_source = source or file.name
    created = existing = failed = 0
    with file.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = parse_import_line(line)
                stored = handlers.import_item(rt, item, default_source=default_source)
            except ImportLineError as exc:
                failed += 1
                err_console.print(f"{file}:{number}: skipped: {exc}", highlight=False)
                continue
            created += stored.created
            existing += not stored.created
            dispatcher.drain(_handlers(rt))
    console.print(f"imported {created} new article(s), {existing} already stored, {failed} line(s) failed")
    rt.close()
    if failed:
        sys.exit(EXIT_FAILED)


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
@pass_context
def export_command(ctx: Context, fmt: str, output: Path | None) -> None:
    """Write every stored article as one JSON object a line."""
    db = ctx.database()
    stream = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with db.reader() as session:
            for row in repo.export_rows(session):
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if output:
            stream.close()


# ------------------------------------------------------------------ running


def _handlers(rt: Runtime, stats: Counter[str] | None = None) -> dict[str, Callable[..., object]]:
    counter: Counter[str] = stats if stats is not None else Counter()

    def poll(feed_id: int) -> None:
        record = handlers.poll_feed(rt, feed_id)
        if record is None:
            return
        counter["feeds_polled"] += 1
        counter["articles_seen"] += record.seen_entries
        if record.outcome not in ("ok", "not_modified"):
            counter["errors"] += 1

    def ingest(entry_id: int) -> None:
        article_id = handlers.ingest_entry(rt, entry_id)
        counter["entries_ingested" if article_id else "entries_skipped"] += 1

    def process(article_id: int) -> None:
        handlers.process_article(rt, article_id)
        counter["articles_new"] += 1

    def refetch(article_id: int) -> None:
        handlers.refetch_article(rt, article_id)

    return {POLL_FEED: poll, INGEST_ENTRY: ingest, PROCESS_ARTICLE: process, REFETCH_ARTICLE: refetch}


def _add_feed_list(rt: Runtime, path: Path) -> int:
    try:
        feed_list = parse_feed_list(path.read_bytes())
    except (OSError, FeedListError) as exc:
        fail(f"cannot read feed list {path}: {exc}")
    for reason in feed_list.skipped:
        err_console.print(f"{path}: skipped {reason}", highlight=False)
    added = 0
    with rt.db.transaction() as session:
        for spec in feed_list.feeds:
            _, created = repo.add_feed(session, spec.url, title=spec.title, tags=spec.tags)
            added += created
    return added


@contextmanager
def _interruptible() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        err_console.print("interrupted: work committed so far is kept")
        sys.exit(130)


@cli.command("run")
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
    rt, dispatcher = ctx.runtime(auto_upgrade=True)
    if feed_file is not None:
        added = _add_feed_list(rt, feed_file)
        console.print(f"{added} feed(s) added from {feed_file}")
    stats: Counter[str] = Counter()
    table = _handlers(rt, stats)
    with _interruptible():
        while True:
            handlers.dispatch_due_feeds(rt)
            dispatcher.drain(table)
            if once:
                break
            time.sleep(_seconds_until_next_poll(rt))
    console.print(
        f"feeds polled: {stats['feeds_polled']}, articles new: {stats['articles_new']}, "
        f"seen before: {stats['articles_seen']}, errors: {stats['errors']}"
    )
    rt.close()


def _seconds_until_next_poll(rt: Runtime) -> float:
    with rt.db.reader() as session:
        next_at = session.scalar(select(func.min(Feed.next_poll_at)).where(Feed.status != "gone"))
    if next_at is None:
        return rt.settings.dispatch_interval_seconds
    return max(1.0, min(rt.settings.dispatch_interval_seconds, (next_at - utcnow()).total_seconds()))


def _celery_argv(role: str, extra: tuple[str, ...]) -> list[str]:
    return ["celery", "-A", "tasks", role, *extra]


@cli.command("worker", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--queues", "-Q", default="poll,fetch,process,reingest", show_default=True)
@click.option("--concurrency", "-c", type=int, help="Processes (default: NEWSWORKER_WORKER_CONCURRENCY).")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_context
def worker_command(ctx: Context, queues: str, concurrency: int | None, celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker (needs NEWSWORKER_BROKER_URL)."""
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


@cli.command("beat", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_context
def beat_command(ctx: Context, celery_args: tuple[str, ...]) -> None:
    """Run Celery beat, which triggers the due-feed dispatcher (run exactly one)."""
    if ctx.settings.embedded:
        fail("NEWSWORKER_BROKER_URL is not set: beat needs a redis:// broker")
    ctx.database().dispose()
    from tasks import app

    app.start(["beat", "--loglevel", ctx.settings.log_level, *celery_args])


def main() -> None:
    cli(prog_name="newsworker")


__all__ = ["FeedSpec", "cli", "main"]
