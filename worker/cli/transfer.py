"""``newsworker import`` (JSON lines in) and ``newsworker export`` (JSON lines out, streamed)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

import click

from storage import queries, repo
from storage.models import Story
from worker.cli.common import (
    CONTEXT_SETTINGS,
    DATE,
    EXIT_FAILED,
    Context,
    console,
    err_console,
    fail,
    interruptible,
    pass_context,
)
from worker.service import handlers
from worker.service.imports import ImportLineError, parse_import_line


@click.command("import", context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Source name for lines without one (default: the file name).")
@pass_context
def import_command(ctx: Context, file: Path, source: str | None) -> None:
    """Ingest pre-fetched articles from a JSON-lines file, in file order."""
    rt, dispatcher = ctx.runtime(auto_upgrade=True)
    default_source = source or file.name
    created = existing = failed = 0
    with (
        interruptible("interrupted: the lines before this one are stored"),
        file.open("r", encoding="utf-8", errors="replace") as handle,
    ):
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
            dispatcher.drain(rt)
    console.print(f"imported {created} new article(s), {existing} already stored, {failed} line(s) failed")
    rt.close()
    if failed:
        sys.exit(EXIT_FAILED)


@click.command("export", context_settings=CONTEXT_SETTINGS)
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
@click.option("--since", type=DATE, help="Published (or stored, if undated) at or after DATE.")
@click.option("--until", type=DATE, help="Published (or stored, if undated) before DATE.")
@click.option("--feed", "feeds", multiple=True, metavar="ID|URL", help="Only articles seen in this feed (repeatable).")
@click.option(
    "--story", "stories", multiple=True, type=int, metavar="ID", help="Only articles of this story (repeatable)."
)
@pass_context
def export_command(
    ctx: Context,
    fmt: str,
    output: Path | None,
    since: datetime | None,
    until: datetime | None,
    feeds: tuple[str, ...],
    stories: tuple[int, ...],
) -> None:
    """Write stored articles as one JSON object a line, streamed in id order (constant memory)."""
    db = ctx.database()
    with db.reader() as session:
        feed_ids = []
        for feed in feeds:
            try:
                feed_ids.append(repo.find_feed(session, feed).id)
            except repo.NotFound as exc:
                fail(str(exc))
        for story_id in stories:
            if session.get(Story, story_id) is None:
                fail(f"no story with id {story_id} (see `newsworker stories list`)")
    selection = queries.ArticleFilter(feed_ids=tuple(feed_ids), story_ids=tuple(stories), since=since, until=until)
    try:
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}; choose another path with -o")
    try:
        with interruptible("interrupted: the export is incomplete"), db.reader() as session:
            for row in queries.export_rows(session, selection):
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    except BrokenPipeError:
        # `newsworker export | head`: the reader left, which is not an error; stop
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        if output:
            stream.close()
