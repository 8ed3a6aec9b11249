"""``newsworker articles list`` / ``articles show``."""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from storage import queries
from worker.cli.common import (
    CONTEXT_SETTINGS,
    Context,
    article_filter,
    article_filter_options,
    console,
    echo_json,
    fail,
    jsonable,
    parse_iso,
    pass_context,
    when,
)
from worker.model.clock import utcnow


@click.group("articles", context_settings=CONTEXT_SETTINGS)
def articles_group() -> None:
    """List and inspect stored articles."""


@articles_group.command("list")
@article_filter_options
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="Most articles listed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@pass_context
def articles_list(
    ctx: Context,
    since: datetime | None,
    until: datetime | None,
    feeds: tuple[str, ...],
    stories: tuple[int, ...],
    limit: int,
    as_json: bool,
) -> None:
    """The newest stored articles, with the filters `export` takes (a merged story stands for its survivor)."""
    db = ctx.database()
    with db.reader() as session:
        selection = article_filter(session, feeds=feeds, stories=stories, since=since, until=until)
        rows = queries.list_articles(session, selection, limit=limit)
        total = queries.count_articles(session, selection)
    if as_json:
        for row in rows:
            echo_json(row)
        return
    now = utcnow()
    table = Table("id", "published", "story", "duplicate of", "source(s)", "title")
    for row in rows:
        published = parse_iso(row["published_at"] or row["created_at"])
        table.add_row(
            str(row["id"]),
            when(published, now=now),
            str(row["story_id"] or "-"),
            str(row["duplicate_of"] or ""),
            ", ".join(row["sources"]) or "-",
            row["title"] or row["url"],
        )
    console.print(table)
    console.print(f"{len(rows)} of {total} matching article(s); `newsworker articles show ID` for one", highlight=False)


@articles_group.command("show")
@click.argument("article", metavar="ID|URL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--with-html", is_flag=True, help="Include the article's html.")
@pass_context
def articles_show(ctx: Context, article: str, as_json: bool, with_html: bool) -> None:
    """An article's metadata, the feeds and addresses it was seen under, its duplicates and story.

    ARTICLE is its id or any address it was seen under.
    """
    db = ctx.database()
    try:
        with db.reader() as session:
            detail = queries.article_detail(session, queries.find_article_id(session, article), with_html=with_html)
    except queries.ArticleNotFound as exc:
        fail(str(exc))
    if as_json:
        data = jsonable(detail)
        if not with_html:
            del data["html"]
        echo_json(data)
        return
    now = utcnow()
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    story = "-"
    if detail.story_id is not None:
        story = f"{detail.story_id} {detail.story_title or ''} ({detail.story_article_count} article(s))"
    original = "-"
    if detail.duplicate_of is not None:
        original = f"{detail.duplicate_of.id} {detail.duplicate_of.title or ''} {detail.duplicate_of.url}"
    changed = "-"
    if detail.previous_hash:
        changed = f"{when(detail.previous_changed_at, now=now)} (previous hash {detail.previous_hash[:12]})"
    for label, value in (
        ("article", str(detail.id)),
        ("title", detail.title or "-"),
        ("address", detail.url),
        ("page kind", detail.page_kind or "-"),
        ("also seen as", ", ".join(u for u in detail.urls if u != detail.url) or "-"),
        ("published", when(detail.published_at, now=now)),
        ("language", detail.language or "-"),
        ("authors", ", ".join(detail.authors) or "-"),
        ("dateline", " ".join(filter(None, (detail.dateline, detail.agency and f"({detail.agency})"))) or "-"),
        ("image", detail.image_url or "-"),
        ("words", str(detail.word_count)),
        ("content", detail.content_source + (f" (error: {detail.fetch_error})" if detail.fetch_error else "")),
        ("stored / modified", f"{when(detail.created_at, now=now)} / {when(detail.modified_at, now=now)}"),
        ("text last changed", changed),
        ("processed", when(detail.processed_at, now=now)),
        ("duplicate of", original),
        ("story", story),
        *(
            (
                f"[red]{f.kind.removeprefix('newsworker.').replace('_', ' ')} failed[/]",
                f"{f.error} ({when(f.at, now=now)})",
            )
            for f in detail.failures
        ),
    ):
        info.add_row(label, value)
    console.print(info)
    sightings = Table("source", "address in the feed", "first seen", "last seen", title="sightings")
    for s in detail.sightings:
        sightings.add_row(
            s.feed_url or s.source, s.url or "-", when(s.first_seen_at, now=now), when(s.last_seen_at, now=now)
        )
    console.print(sightings)
    if detail.duplicates:
        dups = Table("id", "title", "address", title="duplicates of this article")
        for d in detail.duplicates:
            dups.add_row(str(d.id), d.title or "", d.url)
        console.print(dups)
    if detail.text_preview:
        console.print(f"[bold]text[/] {detail.text_preview}…", highlight=False)
    if with_html and detail.html:
        console.print(f"[bold]html[/] {detail.html}", highlight=False)


def _step(kind: str) -> str:
    """``newsworker.process_article`` -> ``process article``."""
    return kind.removeprefix("newsworker.").replace("_", " ")
