"""``newsworker import`` (JSON lines in) and ``newsworker export`` (JSON lines out, streamed)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import click

from storage import queries
from worker.cli.common import (
    CONTEXT_SETTINGS,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Context,
    article_filter,
    article_filter_options,
    console,
    err_console,
    fail,
    interruptible,
    note,
    pass_context,
    progress_bar,
)
from worker.service import handlers
from worker.service.imports import (
    DateOrder,
    FilePrescan,
    ImportLineError,
    parse_import_line,
    prescan_file,
    read_lines,
    with_warnings,
    without_site_names,
)


@click.command("import", context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Source name for lines without one (default: the file name).")
@click.option(
    "--date-order",
    type=click.Choice(["auto", "dmy", "mdy"]),
    default="auto",
    show_default=True,
    help="How to read numeric dates like 03/04/2024 (auto: as the file's unambiguous ones are written).",
)
@pass_context
def import_command(ctx: Context, file: Path, source: str | None, date_order: DateOrder) -> None:
    """Ingest pre-fetched articles from a JSON-lines file, in file order.

    Every line that can be kept is kept (an unreadable date leaves the article undated, with a
    warning); lines that cannot be articles are reported with their number and reason. Running
    the same file again is safe: stored articles are recognised by address."""
    rt, dispatcher = ctx.runtime(auto_upgrade=True)
    refine_every = ctx.settings.import_refine_every
    default_source = source or file.name
    created = existing = 0
    skipped: Counter[str] = Counter()
    warned = 0
    handlers.resume_embedded(rt)  # what an interrupted run left unfinished
    dispatcher.drain(rt)

    def summary() -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in skipped.most_common())
        return (
            f"imported {created} new article(s), {existing} already stored, "
            f"{sum(skipped.values())} line(s) skipped{f' ({reasons})' if reasons else ''}, {warned} warning(s)"
        )

    seekable = file.is_file()  # not a pipe (/dev/stdin): read once, without a size, a position or a prescan
    scan = FilePrescan()  # (from a pipe, ambiguous dates stay undated and titles keep their outlets' names)
    if seekable:
        with file.open("rb") as handle:
            scan = prescan_file(handle, max_bytes=ctx.settings.import_max_line_bytes, default_source=default_source)
    if date_order == "auto" and scan.shown:
        date_order = scan.date_order
        first = "day" if date_order == "dmy" else "month"
        note(
            f"numeric dates are read {first} first: {scan.shown} line(s) of {file.name} can only be read that way"
            " (--date-order to choose)"
        )
    try:
        with file.open("rb") as handle, progress_bar(not err_console.is_terminal, counted=False) as bar:
            task = bar.add_task(file.name, total=file.stat().st_size if seekable else None, detail="")

            def show(number: int) -> None:
                bar.update(
                    task,
                    completed=handle.tell() if seekable else 0,
                    detail=f"line {number:,}: {created:,} new, {existing:,} stored, {sum(skipped.values()):,} skipped",
                )

            number = 0
            for line in read_lines(handle, max_bytes=ctx.settings.import_max_line_bytes):
                show(number := line.number)
                where = f"{file}:{line.number}"
                late: list[str] = []  # what storing the line found
                if line.text is None:
                    skipped[_reason(line.error or "unreadable")] += 1
                    err_console.print(f"{where}: skipped: {line.error}", highlight=False, soft_wrap=True)
                    continue
                try:
                    item = with_warnings(
                        parse_import_line(line.text, date_order=date_order, default_source=default_source),
                        line.warnings,
                    )
                    item = without_site_names(item, scan.site_names, default_source=default_source)
                    stored = handlers.import_item(rt, item, default_source=default_source, warn=late.append)
                except ImportLineError as exc:
                    skipped[_reason(str(exc))] += 1
                    err_console.print(f"{where}: skipped: {exc}", highlight=False, soft_wrap=True)
                    continue
                except Exception as exc:  # one line that cannot be processed never stops the import
                    skipped["failed"] += 1
                    err_console.print(f"{where}: failed: {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
                    continue
                for warning in (*item.warnings, *late):
                    warned += 1
                    err_console.print(f"{where}: warning: {warning}", highlight=False, soft_wrap=True)
                created += stored.created
                existing += not stored.created
                dispatcher.drain(rt)
                if stored.created and refine_every and created % refine_every == 0:
                    # an archive's stories settle as a live stream's do: an article's online link
                    # is refined while the stories around it are young, not once at the end
                    handlers.refine_stories(rt)
            show(number)
    except KeyboardInterrupt:
        note(f"interrupted: the lines before this one are stored; run the import again to go on. {summary()}")
        rt.close()
        sys.exit(EXIT_INTERRUPTED)
    console.print(summary(), soft_wrap=True)
    rt.close()
    if skipped:
        sys.exit(EXIT_FAILED)


def _reason(message: str) -> str:
    """A skip reason for the summary's counts (the message without its particulars)."""
    for marker in ("not valid JSON", "over the limit", "in the future", "url is missing", "text or html"):
        if marker in message:
            return {"over the limit": "too large", "in the future": "dated in the future"}.get(marker, marker)
    return "invalid address" if "http" in message or "address" in message else "invalid"


@click.command("export", context_settings=CONTEXT_SETTINGS)
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
@article_filter_options
@click.option("--with-html", is_flag=True, help="Include each article's html (off by default: exports stay small).")
@pass_context
def export_command(
    ctx: Context,
    fmt: str,
    output: Path | None,
    since: datetime | None,
    until: datetime | None,
    feeds: tuple[str, ...],
    stories: tuple[int, ...],
    with_html: bool,
) -> None:
    """Write stored articles as one JSON object a line, streamed in id order (constant memory).

    Each line: id, url (= canonical_url), urls, title, text, published_at, authors, dateline,
    agency, image_url, language, page_kind (non-article pages keep their text), word_count,
    duplicate_of, story_id, sources; html with --with-html."""
    db = ctx.database()
    with db.reader() as session:
        selection = article_filter(session, feeds=feeds, stories=stories, since=since, until=until)
    try:
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}; choose another path with -o")
    try:
        with interruptible("interrupted: the export is incomplete"), db.reader() as session:
            for row in queries.export_rows(session, selection, with_html=with_html):
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    except BrokenPipeError:
        # `newsworker export | head`: the reader left, which is not an error; stop
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        if output:
            stream.close()
