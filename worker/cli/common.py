"""What every command shares: settings context, consoles, exit codes, errors, dates, JSON."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.exc import OperationalError as DBOperationalError
from sqlalchemy.orm import Session

from storage import queries, repo
from storage.db import Database
from storage.schema import SchemaOutOfDate, ensure_current, upgrade
from worker.model.clock import isoformat_utc, utcnow
from worker.model.feed import PollRecord
from worker.service.imports import UnreadableDate, parse_published
from worker.service.messages import IngestEntry, LocalDispatcher, Message, PollFeed, ProcessArticle
from worker.service.runtime import Runtime
from worker.settings import Settings


def _console(stderr: bool) -> Console:
    """Rich on a terminal; when piped, lines are never wrapped (scripts read whole lines)."""
    stream = sys.stderr if stderr else sys.stdout
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=_UNWRAPPED_WIDTH, soft_wrap=True)


# Wide enough that no table row or message is folded when the output is not a terminal.
_UNWRAPPED_WIDTH = 10_000

console = _console(stderr=False)
err_console = _console(stderr=True)

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran, but some items failed
EXIT_USAGE = 2  # the command could not run: the message says what to do
EXIT_INTERRUPTED = 130

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr, then exit (2 by default: the command could not run)."""
    err_console.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True)
    sys.exit(code)


def warn(message: str) -> None:
    err_console.print(f"[bold yellow]warning:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True)


def progress_bar(disable: bool, *, counted: bool = True) -> Progress:
    """The commands' one progress bar, on stderr (stdout stays the command's output): a task's
    description, bar, done/total (``counted``; not for a total in bytes), percent, elapsed, left
    and a ``detail`` field."""
    columns: list[ProgressColumn] = [TextColumn("[bold]{task.description}"), BarColumn()]
    if counted:
        columns.append(MofNCompleteColumn())
    columns += [TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[detail]}")]
    return Progress(*columns, console=err_console, disable=disable)


def note(message: str) -> None:
    err_console.print(message, highlight=False, soft_wrap=True, markup=False)


def one_line(message: str) -> str:
    return " ".join(message.split())


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


def counting(stats: Counter[str]) -> Callable[[Message, object], None]:
    """Embedded mode: count what each message run in this process did (for the run summary)."""

    def observe(message: Message, result: object) -> None:
        if isinstance(message, PollFeed):
            if not isinstance(result, PollRecord):
                return  # not due, or another poll held the feed
            stats["feeds_polled"] += 1
            stats["articles_seen"] += result.seen_entries
            if result.outcome not in ("ok", "not_modified"):
                stats["errors"] += 1
        elif isinstance(message, IngestEntry):
            stats["entries_ingested" if result else "entries_skipped"] += 1
        elif isinstance(message, ProcessArticle):
            stats["articles_new"] += 1

    return observe


@contextmanager
def interruptible(message: str = "interrupted: work committed so far is kept") -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        note(message)
        sys.exit(EXIT_INTERRUPTED)


def resolve_stories(session: Session, story_ids: Iterable[int]) -> tuple[int, ...]:
    """Story ids as ``stories show`` reads them: a story merged into another stands for the one it became."""
    resolved: list[int] = []
    for story_id in story_ids:
        live = queries.live_story_id(session, story_id)
        if live is None:
            fail(f"no story with id {story_id} (see `newsworker stories list`)")
        if live != story_id:
            note(f"story {story_id} was merged into story {live}: using story {live}")
        if live not in resolved:
            resolved.append(live)
    return tuple(resolved)


def article_filter(
    session: Session,
    *,
    feeds: Iterable[str],
    stories: Iterable[int],
    since: datetime | None,
    until: datetime | None,
) -> queries.ArticleFilter:
    """The selection `articles list` and `export` share; an unknown feed or story is an error."""
    return queries.ArticleFilter(
        feed_ids=feed_ids_of(session, feeds), story_ids=resolve_stories(session, stories), since=since, until=until
    )


def feed_ids_of(session: Session, feeds: Iterable[str]) -> tuple[int, ...]:
    """Feed ids from ids or URLs as an admin types them; an unknown feed is an error."""
    feed_ids: list[int] = []
    for feed in feeds:
        try:
            feed_ids.append(repo.find_feed(session, feed).id)
        except repo.NotFound as exc:
            fail(str(exc))
    return tuple(feed_ids)


# ---------------------------------------------------------------- parameters

F = TypeVar("F", bound=Callable[..., Any])


def article_filter_options(command: F) -> F:
    """--since/--until/--feed/--story, declared once for `articles list` and `export`."""
    options = (
        click.option("--since", type=DATE, help="Published (or stored, if undated) at or after DATE."),
        click.option("--until", type=DATE, help="Published (or stored, if undated) before DATE."),
        click.option(
            "--feed", "feeds", multiple=True, metavar="ID|URL", help="Only articles seen in this feed (repeatable)."
        ),
        click.option(
            "--story",
            "stories",
            multiple=True,
            type=int,
            metavar="ID",
            help="Only articles of this story (repeatable).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DateParam(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.2
    """``2024-05-01``, an ISO 8601 datetime, ``today``, or an age such as ``36h`` / ``7d`` / ``2w``."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip().lower()
        now = utcnow()
        if text == "today":
            return now.replace(hour=0, minute=0, second=0, microsecond=0)
        if text == "yesterday":
            return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        relative = _RELATIVE.match(text)
        if relative:
            return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        try:
            parsed = parse_published(str(value).strip())
        except UnreadableDate:
            parsed = None
        if parsed is None:
            self.fail(
                f"{value!r} is not a date: use 2024-05-01, 2024-05-01T12:00:00Z, today, or an age like 36h, 7d, 2w",
                param,
                ctx,
            )
        return parsed


DATE = DateParam()


# ---------------------------------------------------------------- output


def jsonable(value: Any) -> Any:
    """Dataclasses, datetimes and tuples as JSON-ready values (datetimes in ISO 8601: UTC, or the
    offset an aware value carries, a publication time on its publisher's clock)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return isoformat_utc(value) if value.utcoffset() in (None, timedelta(0)) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def parse_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def echo_json(value: Any) -> None:
    click.echo(json.dumps(jsonable(value), ensure_ascii=False))


def when(value: datetime | None, *, now: datetime | None = None) -> str:
    """``2024-05-01 12:00:00Z (3h ago)`` for tables."""
    if value is None:
        return "-"
    now = now or utcnow()
    stamp = (isoformat_utc(value) or "")[:19].replace("T", " ") + "Z"
    return f"{stamp} ({age(now - value)})"


def age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 90:
        text = f"{seconds}s"
    elif seconds < 90 * 60:
        text = f"{seconds // 60}m"
    elif seconds < 48 * 3600:
        text = f"{seconds // 3600}h"
    else:
        text = f"{seconds // 86400}d"
    return f"in {text}" if future else f"{text} ago"


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"
